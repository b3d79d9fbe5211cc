"""deploy/ and supervisord.conf: the examples load with the bots' own loaders, the
supervisord configs carry every setting the design asks of a supervised bot."""

from __future__ import annotations

import re
from configparser import RawConfigParser
from pathlib import Path

import pytest

from signal_bot.config_file import load_config
from treasury_bot.policy_file import load_policy

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SUPERVISORD_CONFIGS = [ROOT / "supervisord.conf", DEPLOY / "treasury-host.conf", DEPLOY / "signal-host.conf"]


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
