"""Each bot's settings from its own env file, overridable by the real environment; every
problem names its variable; secrets never show in a repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import (ApiCredentials, ConfigError, load_env, load_signal_settings, load_smtp)
from common.logs import scrub
from tests.support.config_cases import SECRET, KEY, TREASURY_ENV, env_file, treasury


SIGNAL_ENV = """
BINANCE_BASE_URL=https://api.binance.com
SIGNAL_API_KEY=signalKEYnotreal0000000000000000000000ABCD
SIGNAL_API_SECRET=signal-secret-value-not-real-0123456789
SIGNAL_WEBHOOK_SECRET=webhook-secret-not-real-012345
SIGNAL_CURVE_SECRET_FILE=keys/signal.key_secret
TREASURY_CURVE_PUBLIC_FILE=keys/treasury.key
"""


def test_the_env_file_alone_gives_the_settings(tmp_path):
    """Values come from the file; relative paths are taken from the file's folder."""
    settings = treasury(tmp_path)
    folder = (tmp_path / "conf").resolve()
    assert settings.base_url == "http://127.0.0.1:9000"
    assert settings.credentials.key == KEY
    assert settings.policy_file == folder / "treasury.toml"
    assert settings.ledger_path == folder / "data" / "ledger.sqlite"
    assert settings.curve_secret_file == folder / "keys" / "treasury.key_secret"
    assert settings.authorized_clients_dir == Path("/abs/clients")
    assert settings.intent_endpoint == "tcp://127.0.0.1:7701"
    assert settings.event_endpoint == "tcp://127.0.0.1:7702"
    assert settings.smtp is None and settings.warnings == ()


def test_the_real_environment_overrides_the_file(tmp_path):
    """A variable set in the real environment wins over the file's value."""
    settings = treasury(tmp_path, environ={"TREASURY_API_KEY": "overrideKEY0000000000000000000000",
                                           "LOG_LEVEL": "DEBUG",
                                           "TREASURY_INTENT_ENDPOINT": "tcp://127.0.0.1:9999"})
    assert settings.credentials.key == "overrideKEY0000000000000000000000"
    assert settings.log_level == "DEBUG"
    assert settings.intent_endpoint == "tcp://127.0.0.1:9999"


def test_a_bot_does_not_pick_up_another_bots_variables(tmp_path):
    """The treasury ignores SIGNAL_* and unrelated names of the real environment."""
    env = load_env(env_file(tmp_path, "TREASURY_API_KEY=k\n"), prefixes=("TREASURY_",),
                   environ={"SIGNAL_API_SECRET": "leak", "HOME": "/root", "TREASURY_X": "1"})
    assert "SIGNAL_API_SECRET" not in env.values and "HOME" not in env.values
    assert env.get("TREASURY_X") == "1"


def test_defaults_are_relative_to_the_env_files_folder(tmp_path):
    """An unset path setting falls back to its default inside the env file's folder."""
    settings = treasury(tmp_path, drop=("TREASURY_POLICY_FILE", "TREASURY_LEDGER_PATH"))
    folder = (tmp_path / "conf").resolve()
    assert settings.policy_file == folder / "treasury.toml"
    assert settings.ledger_path == folder / "treasury-ledger.sqlite"


def test_a_relative_path_from_the_real_environment_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    """Only paths written in the env file are relative to its folder; one from the real
    environment is relative to where the bot runs, whether or not the file also names it."""
    monkeypatch.chdir(tmp_path)
    only_env = treasury(tmp_path, drop=("TREASURY_POLICY_FILE",),
                        environ={"TREASURY_POLICY_FILE": "elsewhere.toml"})
    assert only_env.policy_file == tmp_path / "elsewhere.toml"
    overriding = treasury(tmp_path, environ={"TREASURY_LEDGER_PATH": "run/ledger.sqlite"})
    assert overriding.ledger_path == tmp_path / "run" / "ledger.sqlite"


def test_an_empty_value_counts_as_unset(tmp_path):
    """`NAME=` with nothing after it is missing, not the empty string."""
    with pytest.raises(ConfigError, match="TREASURY_API_SECRET is not set"):
        treasury(tmp_path, extra="\nTREASURY_API_SECRET=   \n")


@pytest.mark.parametrize("name", ["TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE",
                                  "TREASURY_AUTHORIZED_CLIENTS_DIR"])
def test_a_missing_variable_is_named(tmp_path, name):
    """A required variable that is absent stops loading with its name in the message."""
    with pytest.raises(ConfigError) as caught:
        treasury(tmp_path, drop=(name,))
    assert name in str(caught.value)


@pytest.mark.parametrize("extra, name", [
    ("BINANCE_BASE_URL=http://api.binance.com", "BINANCE_BASE_URL"),
    ("BINANCE_BASE_URL=ftp://127.0.0.1", "BINANCE_BASE_URL"),
    ("BINANCE_BASE_URL=not a url", "BINANCE_BASE_URL"),
    ("TREASURY_INTENT_ENDPOINT=ipc:///tmp/x", "TREASURY_INTENT_ENDPOINT"),
    ("TREASURY_EVENT_ENDPOINT=tcp://nohostport", "TREASURY_EVENT_ENDPOINT"),
    ("SMTP_HOST=mail\nSMTP_SECURITY=tls\nALERT_EMAIL_FROM=a@b\nALERT_EMAIL_TO=c@d", "SMTP_SECURITY"),
    ("SMTP_HOST=mail\nSMTP_PORT=abc\nALERT_EMAIL_FROM=a@b\nALERT_EMAIL_TO=c@d", "SMTP_PORT"),
    ("SMTP_HOST=mail\nSMTP_PORT=70000\nALERT_EMAIL_FROM=a@b\nALERT_EMAIL_TO=c@d", "SMTP_PORT"),
    ("SMTP_HOST=mail\nALERT_EMAIL_TO=c@d", "ALERT_EMAIL_FROM"),
    ("SMTP_HOST=mail\nALERT_EMAIL_FROM=a@b", "ALERT_EMAIL_TO"),
    ("SMTP_HOST=mail\nALERT_EMAIL_FROM=a@b\nALERT_EMAIL_TO=nobody", "ALERT_EMAIL_TO"),
    ("SMTP_HOST=mail\nALERT_EMAIL_FROM=a@b\nALERT_EMAIL_TO=c@d\nSMTP_USERNAME=u", "SMTP_PASSWORD"),
    ("TREASURY_SANDBOX_POLL_SECONDS=fast", "TREASURY_SANDBOX_POLL_SECONDS"),
    ("TREASURY_SANDBOX_POLL_SECONDS=0.001", "TREASURY_SANDBOX_POLL_SECONDS"),
])
def test_a_bad_variable_is_named(tmp_path, extra, name):
    """A value of the wrong shape stops loading with the variable's name in the message."""
    with pytest.raises(ConfigError) as caught:
        treasury(tmp_path, extra="\n" + extra + "\n")
    assert name in str(caught.value)


def test_sandbox_polling_is_only_allowed_against_a_loopback_exchange(tmp_path):
    """TREASURY_SANDBOX_POLL_SECONDS works with the sandbox and is refused with Binance."""
    assert treasury(tmp_path, extra="\nTREASURY_SANDBOX_POLL_SECONDS=0.2\n").sandbox_poll_seconds == 0.2
    with pytest.raises(ConfigError, match="TREASURY_SANDBOX_POLL_SECONDS"):
        treasury(tmp_path, extra="\nTREASURY_SANDBOX_POLL_SECONDS=0.2\n",
                 environ={"BINANCE_BASE_URL": "https://api.binance.com"})


def test_sandbox_rules_refresh_is_only_allowed_against_a_loopback_exchange(tmp_path):
    """Issue 12: TREASURY_SANDBOX_RULES_SECONDS works with the sandbox, is bounded, and is refused with Binance."""
    assert treasury(tmp_path, extra="\nTREASURY_SANDBOX_RULES_SECONDS=1\n").sandbox_rules_seconds == 1.0
    for bad in ("0.1", "soon", "301"):
        with pytest.raises(ConfigError, match="TREASURY_SANDBOX_RULES_SECONDS"):
            treasury(tmp_path, extra=f"\nTREASURY_SANDBOX_RULES_SECONDS={bad}\n")
    with pytest.raises(ConfigError, match="TREASURY_SANDBOX_RULES_SECONDS"):
        treasury(tmp_path, extra="\nTREASURY_SANDBOX_RULES_SECONDS=1\n",
                 environ={"BINANCE_BASE_URL": "https://api.binance.com"})


def test_a_loose_file_mode_is_warned(tmp_path):
    """An env file readable by others loads, with a warning that names the mode."""
    loose = load_env(env_file(tmp_path, "A=1\n", mode=0o644))
    assert len(loose.warnings) == 1 and "0644" in loose.warnings[0] and "0600" in loose.warnings[0]
    tight = load_env(env_file(tmp_path, "A=1\n", name="tight.env", mode=0o600))
    assert tight.warnings == ()


def test_a_missing_env_file_is_a_config_error(tmp_path):
    """Pointing at a file that does not exist says so and suggests --env-file."""
    with pytest.raises(ConfigError, match="--env-file"):
        load_env(tmp_path / "absent.env")


def test_no_env_file_uses_the_real_environment_only(tmp_path, monkeypatch):
    """Without a file, only the real environment (filtered) is used; paths are from cwd."""
    monkeypatch.chdir(tmp_path)
    env = load_env(None, prefixes=("TREASURY_",), environ={"TREASURY_LEDGER_PATH": "l.sqlite"})
    assert env.path is None
    assert env.path_of("TREASURY_LEDGER_PATH") == tmp_path / "l.sqlite"


def test_values_are_not_interpolated(tmp_path):
    """A secret with a `$` is taken literally."""
    env = load_env(env_file(tmp_path, "A=abc${HOME}def\n"), environ={"HOME": "/root"})
    assert env.get("A") == "abc${HOME}def"


def test_secrets_never_appear_in_a_repr(tmp_path):
    """The settings' repr shows the key masked and never the secret or the SMTP password."""
    settings = treasury(tmp_path, extra="\nSMTP_HOST=mail\nSMTP_USERNAME=u\nSMTP_PASSWORD=smtp-pass-not-real-99"
                                        "\nALERT_EMAIL_FROM=a@example.com\nALERT_EMAIL_TO=b@example.com,c@example.com\n")
    text = repr(settings)
    assert SECRET not in text and KEY not in text and "smtp-pass-not-real-99" not in text
    assert "trea...WXYZ" in text
    assert settings.smtp.recipients == ("b@example.com", "c@example.com")
    assert "smtp-pass-not-real-99" not in repr(settings.smtp) and "smtp-pass-not-real-99" not in str(settings.smtp)
    assert repr(ApiCredentials("k" * 20, "s" * 20)) == "ApiCredentials(key='kkkk...kkkk', secret='***')"


def test_loaded_secrets_are_scrubbed_from_log_text(tmp_path):
    """Loading registers the key, the secret and the SMTP password with the log scrubber."""
    treasury(tmp_path, extra="\nSMTP_HOST=mail\nSMTP_USERNAME=u\nSMTP_PASSWORD=smtp-pass-not-real-77"
                             "\nALERT_EMAIL_FROM=a@example.com\nALERT_EMAIL_TO=b@example.com\n")
    assert scrub(f"x {SECRET} y {KEY} z smtp-pass-not-real-77") == "x *** y *** z ***"


@pytest.mark.parametrize("security, port", [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_smtp_default_ports_follow_the_security(tmp_path, security, port):
    """Each SMTP_SECURITY has its usual port unless SMTP_PORT says otherwise."""
    env = load_env(env_file(tmp_path, f"SMTP_HOST=mail\nSMTP_SECURITY={security.upper()}\n"
                                      "ALERT_EMAIL_FROM=a@b.c\nALERT_EMAIL_TO=d@e.f\n"))
    smtp = load_smtp(env)
    assert (smtp.security, smtp.port) == (security, port)


def test_signal_settings_load_and_spot_the_treasurys_secrets(tmp_path):
    """The signal bot's settings load from its file; treasury secrets found anywhere are listed."""
    path = env_file(tmp_path / "sig", SIGNAL_ENV)
    clean = load_signal_settings(path, environ={})
    assert clean.leaked_treasury_names == ()
    assert (clean.webhook_host, clean.webhook_port) == ("127.0.0.1", 8080)
    assert clean.treasury_public_file == (tmp_path / "sig").resolve() / "keys" / "treasury.key"
    assert "webhook-secret-not-real" not in repr(clean) and "signal-secret-value" not in repr(clean)
    leaked = load_signal_settings(path, environ={"TREASURY_API_SECRET": "x"})
    assert leaked.leaked_treasury_names == ("TREASURY_API_SECRET",)
    in_file = load_signal_settings(env_file(tmp_path / "sig2", SIGNAL_ENV + "TREASURY_API_KEY=k\n"), environ={})
    assert in_file.leaked_treasury_names == ("TREASURY_API_KEY",)


def test_a_short_webhook_secret_is_refused(tmp_path):
    """SIGNAL_WEBHOOK_SECRET under 16 characters stops the signal bot's start."""
    text = SIGNAL_ENV.replace("webhook-secret-not-real-012345", "short")
    with pytest.raises(ConfigError, match="SIGNAL_WEBHOOK_SECRET"):
        load_signal_settings(env_file(tmp_path, text), environ={})


# -- the test-only clock offset (issue 10) ----------------------------------------------------

def test_the_test_clock_offset_is_read_only_against_a_loopback_exchange(tmp_path):
    """TREASURY_TEST_CLOCK_OFFSET_MS / _FILE shift a sandbox treasury's host clock and are
    refused against Binance, like TREASURY_SANDBOX_POLL_SECONDS."""
    settings = treasury(tmp_path, extra="\nTREASURY_TEST_CLOCK_OFFSET_MS=-21600000\n"
                                         "TREASURY_TEST_CLOCK_OFFSET_FILE=clock-offset\n")
    assert settings.test_clock_offset_ms == -21_600_000
    assert settings.test_clock_offset_file == tmp_path / "conf" / "clock-offset"
    assert treasury(tmp_path).test_clock_offset_ms is None
    assert treasury(tmp_path).test_clock_offset_file is None
    for extra in ("\nTREASURY_TEST_CLOCK_OFFSET_MS=+21600000\n", "\nTREASURY_TEST_CLOCK_OFFSET_FILE=f\n"):
        with pytest.raises(ConfigError, match="TREASURY_TEST_CLOCK_OFFSET_.* is only allowed with a loopback"):
            treasury(tmp_path, extra=extra, environ={"BINANCE_BASE_URL": "https://api.binance.com"})


@pytest.mark.parametrize("value", ["6h", "1.5", str(31 * 86_400_000)])
def test_a_bad_test_clock_offset_is_named(tmp_path, value):
    with pytest.raises(ConfigError, match="TREASURY_TEST_CLOCK_OFFSET_MS"):
        treasury(tmp_path, extra=f"\nTREASURY_TEST_CLOCK_OFFSET_MS={value}\n")


def test_treasury_bot_run_refuses_a_test_clock_offset_against_binance_with_the_config_exit_code(tmp_path, capsys):
    """Exit 2 (a config error) and a clear message, before anything is opened."""
    from treasury_bot import cli

    path = env_file(tmp_path / "conf", TREASURY_ENV.replace("http://127.0.0.1:9000", "https://api.binance.com")
                    + "\nTREASURY_TEST_CLOCK_OFFSET_MS=21600000\n")
    assert cli.main(["run", "--env-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "TREASURY_TEST_CLOCK_OFFSET_MS is only allowed with a loopback BINANCE_BASE_URL" in err
    assert not (tmp_path / "conf" / "data").exists()   # no ledger was created


def test_the_operator_wire_needs_its_bind_and_its_certificate_folder_together(tmp_path):
    """Issue 13: TREASURY_OPERATOR_BIND and TREASURY_OPERATOR_CERTS_DIR, both (read) or neither; a bad endpoint is refused."""
    both = treasury(tmp_path, extra="\nTREASURY_OPERATOR_BIND=tcp://127.0.0.1:7703\nTREASURY_OPERATOR_CERTS_DIR=ops\n")
    assert (both.operator_bind, both.operator_certs_dir) == ("tcp://127.0.0.1:7703", tmp_path / "conf" / "ops")  # beside the env file
    assert treasury(tmp_path).operator_bind is None
    for extra in ("TREASURY_OPERATOR_BIND=tcp://127.0.0.1:7703", "TREASURY_OPERATOR_CERTS_DIR=ops"):
        with pytest.raises(ConfigError, match="both"):
            treasury(tmp_path, extra="\n" + extra + "\n")
    with pytest.raises(ConfigError, match="TREASURY_OPERATOR_BIND"):
        treasury(tmp_path, extra="\nTREASURY_OPERATOR_BIND=7703\nTREASURY_OPERATOR_CERTS_DIR=ops\n")


NEXT = ("\nTREASURY_INTENT_ENDPOINT_NEXT=tcp://127.0.0.1:7711\nTREASURY_EVENT_ENDPOINT_NEXT=tcp://127.0.0.1:7712\n"
        "TREASURY_CURVE_SECRET_FILE_NEXT=keys/treasury-next.key_secret\n")


def test_the_rotation_endpoint_needs_its_three_settings_together(tmp_path):
    """Issue 16 item 3: TREASURY_*_NEXT all three (read, the secret beside the env file) or none."""
    both = treasury(tmp_path, extra=NEXT)
    assert both.curve_next.intent_endpoint == "tcp://127.0.0.1:7711"
    assert both.curve_next.secret_file == tmp_path / "conf" / "keys" / "treasury-next.key_secret"
    assert treasury(tmp_path).curve_next is None
    for line in NEXT.strip().splitlines():
        with pytest.raises(ConfigError, match="needs all three"):
            treasury(tmp_path, extra=NEXT.replace(line, ""))


def test_the_rotation_endpoint_must_not_reuse_the_main_endpoints(tmp_path):
    """A second endpoint on the main one's address is a typed error, not a bind failure later."""
    main = treasury(tmp_path).intent_endpoint
    with pytest.raises(ConfigError, match="of their own"):
        treasury(tmp_path, extra=NEXT.replace("tcp://127.0.0.1:7711", main))
    with pytest.raises(ConfigError, match="TREASURY_INTENT_ENDPOINT_NEXT"):
        treasury(tmp_path, extra=NEXT.replace("tcp://127.0.0.1:7711", "7711"))
