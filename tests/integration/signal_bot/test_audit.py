"""The start-up self-audit: refusals with stable codes and one-line reasons."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from common.config import load_signal_settings
from signal_bot.audit import AuditError, audit_environment
from tests.support.fake_treasury import CurveFiles


@pytest.fixture
def settings(tmp_path):
    curve = CurveFiles.make(tmp_path / "keys")
    environ = {
        "SIGNAL_API_KEY": "signal-key-not-real-000000000000", "SIGNAL_API_SECRET": "signal-secret-not-real-0000",
        "SIGNAL_WEBHOOK_SECRET": "test-secret-not-real-0001",
        "SIGNAL_CURVE_SECRET_FILE": str(curve.signal_secret),
        "TREASURY_CURVE_PUBLIC_FILE": str(curve.treasury_public),
    }
    return load_signal_settings(None, environ=environ), curve, environ


def test_a_clean_environment_passes_and_gives_the_keys(settings):
    """Own key pair and the treasury's public key come back."""
    s, curve, _ = settings
    keys, server_public = audit_environment(s)
    assert keys.public == curve.signal_keys().public and server_public == curve.server_public()


@pytest.mark.parametrize("name", ["TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE"])
def test_a_treasury_secret_in_the_environment_refuses(settings, name):
    """Any TREASURY_* secret present: treasury_secret_in_env, naming the variable, not its value."""
    _, _, environ = settings
    leaked = load_signal_settings(None, environ={**environ, name: "leaked-value-not-real-0004"})
    with pytest.raises(AuditError) as err:
        audit_environment(leaked)
    assert err.value.code == "treasury_secret_in_env" and name in err.value.message
    assert "leaked-value-not-real-0004" not in err.value.message


def test_a_treasury_secret_in_the_env_file_refuses(settings, tmp_path):
    """The same from the env file itself."""
    _, _, environ = settings
    env_file = tmp_path / "signal.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in environ.items()) + "TREASURY_API_KEY=x-not-real-0005\n")
    with pytest.raises(AuditError, match="TREASURY_API_KEY"):
        audit_environment(load_signal_settings(env_file, environ={}))


def test_a_secret_certificate_as_the_treasury_public_file_refuses(settings):
    """TREASURY_CURVE_PUBLIC_FILE holding a secret key: treasury_secret_readable."""
    s, curve, _ = settings
    with pytest.raises(AuditError) as err:
        audit_environment(replace(s, treasury_public_file=curve.treasury_secret))
    assert err.value.code == "treasury_secret_readable"


def test_the_treasury_secret_beside_its_public_file_refuses(settings):
    """The treasury's .key_secret next to the public certificate we read: refused."""
    s, curve, _ = settings
    twin = Path(str(curve.treasury_public) + "_secret")
    shutil.copy(curve.treasury_secret, twin)
    with pytest.raises(AuditError) as err:
        audit_environment(s)
    assert err.value.code == "treasury_secret_readable"


def test_our_own_key_equal_to_the_treasury_key_refuses(settings):
    """Using the treasury's key pair as ours: same_curve_key."""
    s, curve, _ = settings
    with pytest.raises(AuditError) as err:
        audit_environment(replace(s, curve_secret_file=curve.treasury_secret))
    assert err.value.code == "same_curve_key"


def test_a_missing_key_file_is_a_config_refusal(settings, tmp_path):
    """An unreadable CURVE file names the setting."""
    s, _, _ = settings
    with pytest.raises(AuditError, match="SIGNAL_CURVE_SECRET_FILE"):
        audit_environment(replace(s, curve_secret_file=tmp_path / "absent.key_secret"))
