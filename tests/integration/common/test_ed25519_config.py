"""Ed25519 API keys in the env files (issue 12 item 7): TREASURY_PRIVATE_KEY_FILE /
SIGNAL_PRIVATE_KEY_FILE, read from a real file, refused when others can read it."""

from __future__ import annotations

import os

import pytest

from common.api_key_files import write_ed25519_key_pair
from common.binance.ed25519 import pem_body
from common.config import ConfigError, load_signal_settings
from common.logs import scrub
from tests.support.config_cases import env_file, treasury


def key_file(tmp_path, mode=0o600):
    written = write_ed25519_key_pair(tmp_path / "conf" / "keys")
    os.chmod(written.private_file, mode)
    return written


def test_a_private_key_file_instead_of_a_secret_makes_an_ed25519_key(tmp_path):
    """The key file alone (relative to the env file) gives Ed25519 credentials; check's line names the file."""
    written = key_file(tmp_path)
    settings = treasury(tmp_path, "\nTREASURY_PRIVATE_KEY_FILE=keys/binance-ed25519.pem\n",
                        drop=("TREASURY_API_SECRET",))
    assert settings.credentials.key_type == "Ed25519"
    assert settings.credentials.private_key_file == written.private_file
    assert str(written.private_file) in settings.credentials.describe("treasuryctl keys binance")


def test_a_secret_keeps_an_hmac_key_and_check_suggests_ed25519(tmp_path):
    """Without a key file the key is HMAC, as before, and the check line says how to make an Ed25519 one."""
    settings = treasury(tmp_path)
    assert settings.credentials.key_type == "HMAC"
    assert "treasuryctl keys binance" in settings.credentials.describe("treasuryctl keys binance")


def test_both_a_secret_and_a_key_file_are_refused(tmp_path):
    """Which one signs would be a guess: refuse, naming both variables."""
    key_file(tmp_path)
    with pytest.raises(ConfigError, match="TREASURY_API_SECRET.*TREASURY_PRIVATE_KEY_FILE.*not both"):
        treasury(tmp_path, "\nTREASURY_PRIVATE_KEY_FILE=keys/binance-ed25519.pem\n")


def test_neither_a_secret_nor_a_key_file_is_refused_naming_both(tmp_path):
    """The error tells the user both ways to give the key's signing half."""
    with pytest.raises(ConfigError, match="TREASURY_API_SECRET is not set.*TREASURY_PRIVATE_KEY_FILE"):
        treasury(tmp_path, drop=("TREASURY_API_SECRET",))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_private_key_others_can_read_is_refused_with_the_fix(tmp_path, mode):
    """Tighten at once: group- or world-readable is an error (not a warning) that says chmod 600."""
    key_file(tmp_path, mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        treasury(tmp_path, "\nTREASURY_PRIVATE_KEY_FILE=keys/binance-ed25519.pem\n", drop=("TREASURY_API_SECRET",))


@pytest.mark.parametrize("content, says", [(b"junk", "not a private key in PEM"), (None, "cannot read"),
                                           ("public", "not a private key in PEM")])
def test_a_missing_or_wrong_key_file_is_named_without_its_content(tmp_path, content, says):
    """A missing file, junk, or the public half by mistake: the variable and path are named."""
    written = key_file(tmp_path)
    if content is None:
        written.private_file.unlink()
    else:
        written.private_file.write_bytes(written.public_file.read_bytes() if content == "public" else content)
    with pytest.raises(ConfigError, match=f"TREASURY_PRIVATE_KEY_FILE: .*{says}") as caught:
        treasury(tmp_path, "\nTREASURY_PRIVATE_KEY_FILE=keys/binance-ed25519.pem\n", drop=("TREASURY_API_SECRET",))
    assert "BEGIN" not in str(caught.value)


def test_the_private_key_text_is_scrubbed_from_logs_and_never_in_a_repr(tmp_path):
    """Once loaded, the key's base64 body is a registered secret; the settings' repr never holds it."""
    written = key_file(tmp_path)
    settings = treasury(tmp_path, "\nTREASURY_PRIVATE_KEY_FILE=keys/binance-ed25519.pem\n",
                        drop=("TREASURY_API_SECRET",))
    body = pem_body(written.private_file.read_bytes())
    assert body not in repr(settings) and body not in repr(settings.credentials)
    assert body not in scrub(f"oops {body} leaked")


def test_the_signal_bot_reads_its_own_key_file_and_spots_the_treasurys(tmp_path):
    """SIGNAL_PRIVATE_KEY_FILE signs for the signal bot; TREASURY_PRIVATE_KEY_FILE in its env is a leak."""
    written = key_file(tmp_path)
    path = env_file(tmp_path / "conf", f"""
SIGNAL_API_KEY=signalKEYnotreal000000000000000000000WXYZ
SIGNAL_PRIVATE_KEY_FILE={written.private_file}
SIGNAL_WEBHOOK_SECRET=webhook-secret-not-real-0000
SIGNAL_CURVE_SECRET_FILE=keys/signal.key_secret
TREASURY_CURVE_PUBLIC_FILE=keys/treasury.key
TREASURY_PRIVATE_KEY_FILE={written.private_file}
""", name="signal.env")
    settings = load_signal_settings(path, environ={})
    assert settings.credentials.key_type == "Ed25519"
    assert "TREASURY_PRIVATE_KEY_FILE" in settings.leaked_treasury_names


def test_keys_binance_never_overwrites_and_writes_the_private_half_0600(tmp_path):
    """A second run refuses, leaving the first pair as it was; the private file is 0600."""
    first = write_ed25519_key_pair(tmp_path)
    before = first.private_file.read_bytes()
    assert (first.private_file.stat().st_mode & 0o777) == 0o600
    with pytest.raises(ConfigError, match="never overwritten"):
        write_ed25519_key_pair(tmp_path)
    assert first.private_file.read_bytes() == before
    with pytest.raises(ConfigError, match="plain file name"):
        write_ed25519_key_pair(tmp_path, "../elsewhere")
