"""deploy/ and supervisord.conf: the examples load with the bots' own loaders, the
supervisord configs carry every setting the design asks of a supervised bot."""

from __future__ import annotations

import re
import shutil
from configparser import RawConfigParser
from pathlib import Path

import pytest

from common.config import load_signal_settings, load_treasury_settings
from signal_bot.config_file import load_config
from treasury_bot.policy_file import load_policy

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SUPERVISORD_CONFIGS = [ROOT / "supervisord.conf", DEPLOY / "treasury-host.conf", DEPLOY / "signal-host.conf"]
DESIGN_TREASURY_VARS = ("BINANCE_BASE_URL", "TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_POLICY_FILE",
                        "TREASURY_LEDGER_PATH", "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT",
                        "TREASURY_CURVE_SECRET_FILE", "TREASURY_AUTHORIZED_CLIENTS_DIR", "SMTP_HOST", "SMTP_PORT",
                        "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO",
                        "LOG_LEVEL", "LOG_FORMAT")
DESIGN_SIGNAL_VARS = ("BINANCE_BASE_URL", "SIGNAL_API_KEY", "SIGNAL_API_SECRET", "SIGNAL_WEBHOOK_BIND",
                      "SIGNAL_WEBHOOK_SECRET", "SIGNAL_CURVE_SECRET_FILE", "TREASURY_CURVE_PUBLIC_FILE",
                      "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT", "SIGNAL_CONFIG_FILE",
                      "SIGNAL_STATE_PATH", "LOG_LEVEL", "LOG_FORMAT")


def set_variables(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", path.read_text(), re.MULTILINE))


def test_the_example_policy_is_valid_and_keeps_the_safe_defaults():
    """Every key documented, and the file loads: 24 h quarantine, no overrides."""
    policy = load_policy(DEPLOY / "treasury.toml.example").policy
    assert policy.quarantine_hours == 24 and not policy.allow_trading_key and not policy.allow_unrestricted_ip
    text = (DEPLOY / "treasury.toml.example").read_text()
    for key in ("window_hours", "max_transfers_per_hour", "max_intent_age_seconds",
                "min_seconds_between_withdrawals", "poll_interval_seconds", "stuck_after_minutes",
                "max_per_transfer", "window_cap", "approval_above", "reconcile_grace_seconds",
                "reconcile_deadline_minutes", "label", "coin", "network", "address", "tag", "clients"):
        assert re.search(rf"^#?\s*{key} = ", text, re.MULTILINE), key


def test_the_example_env_files_load_and_name_every_design_variable(tmp_path):
    """Each bot's loader accepts its example; every DESIGN 7a variable is there, and no cross-over."""
    treasury_env = tmp_path / "treasury.env"
    signal_env = tmp_path / "signal.env"
    shutil.copy(DEPLOY / "treasury.env.example", treasury_env)
    shutil.copy(DEPLOY / "signal.env.example", signal_env)
    treasury_env.chmod(0o600)
    signal_env.chmod(0o600)
    treasury = load_treasury_settings(treasury_env, environ={})
    signal = load_signal_settings(signal_env, environ={})
    assert treasury.base_url == signal.base_url == "https://api.binance.com"
    assert treasury.smtp is not None and treasury.smtp.security == "starttls"
    assert signal.leaked_treasury_names == ()
    assert set(DESIGN_TREASURY_VARS) <= set_variables(DEPLOY / "treasury.env.example")
    assert set(DESIGN_SIGNAL_VARS) <= set_variables(DEPLOY / "signal.env.example")
    assert not {"TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE"} & set_variables(
        DEPLOY / "signal.env.example")


def test_the_example_signal_config_is_valid():
    """signal.toml.example loads with every table."""
    config = load_config(DEPLOY / "signal.toml.example")
    assert config.sweep is not None and config.sweep.destination == "cold-wallet"


def _programs(path: Path) -> dict[str, dict[str, str]]:
    parser = RawConfigParser(inline_comment_prefixes=None, interpolation=None, strict=True)
    parser.read(path)
    assert parser.has_section("rpcinterface:supervisor") and parser.has_section("supervisorctl")
    assert parser.has_section("unix_http_server") and parser.get("supervisord", "nodaemon") == "true"
    return {name.split(":", 1)[1]: dict(parser.items(name)) for name in parser.sections()
            if name.startswith("program:")}


@pytest.mark.parametrize("path", SUPERVISORD_CONFIGS, ids=lambda p: p.name)
def test_every_supervised_program_has_the_settings_the_design_asks_for(path):
    """autorestart, startsecs, TERM, stopwaitsecs, group stop/kill, priority; no ';' in a command;
    /dev/stdout only with maxbytes 0; the bots get more than their 10 s to stop."""
    programs = _programs(path)
    assert programs
    for name, settings in programs.items():
        for key in ("autorestart", "startsecs", "stopwaitsecs", "priority"):
            assert key in settings, f"{path.name} [{name}] has no {key}"
        assert settings["stopsignal"] == "TERM"
        assert settings["stopasgroup"] == settings["killasgroup"] == "true"
        assert ";" not in settings["command"]
        if settings.get("stdout_logfile") == "/dev/stdout":
            assert settings["stdout_logfile_maxbytes"] == "0"
        if "treasury-bot run" in settings["command"] or "signal-bot run" in settings["command"]:
            assert int(settings["stopwaitsecs"]) > 10 and settings["autorestart"] == "unexpected"
            assert "--env-file" in settings["command"]


def test_the_demo_starts_its_programs_in_story_order_and_the_feeder_is_not_restarted():
    """sandbox, smtp-sink, treasury, signal, feeder by priority; the feeder runs once."""
    programs = _programs(ROOT / "supervisord.conf")
    assert sorted(programs, key=lambda n: int(programs[n]["priority"])) == [
        "sandbox", "smtp-sink", "treasury", "signal", "feeder"]
    assert programs["feeder"]["autorestart"] == "false" and programs["feeder"]["startsecs"] == "0"
