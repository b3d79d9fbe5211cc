"""demo/prepare.py: var/ is generated once, kept on a re-run, and follows a port change."""

from __future__ import annotations

import stat

from common.config import load_signal_settings, load_treasury_settings
from common.curve import load_authorized_clients, load_key_pair, load_public_key
from demo.prepare import (DemoFiles, DemoPorts, prepare,
                          remove_stale_supervisor_files, supervisord_environ)
from treasury_bot.policy_file import load_policy
from signal_bot.config_file import load_config

PORTS = DemoPorts(17790, 17725, 17780, 17701, 17702)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_every_generated_file_loads_with_the_bots_own_loaders(tmp_path):
    """The env files, policy, config and keys are what the bots accept; env files are 0600."""
    files = prepare(tmp_path, PORTS).files
    treasury = load_treasury_settings(files.treasury_env, environ={})
    signal = load_signal_settings(files.signal_env, environ={})
    assert treasury.base_url == signal.base_url == "http://127.0.0.1:17790"
    assert treasury.intent_endpoint == signal.intent_endpoint == "tcp://127.0.0.1:17701"
    assert (signal.webhook_host, signal.webhook_port) == ("127.0.0.1", 17780)
    assert treasury.smtp is not None and (treasury.smtp.port, treasury.smtp.security) == (17725, "none")
    assert treasury.warnings == () and signal.warnings == ()  # mode 0600: no warning
    for env_file in (files.treasury_env, files.signal_env, files.feeder_env):
        assert mode(env_file) == 0o600
    policy = load_policy(treasury.policy_file).policy
    assert policy.quarantine_hours == 0 and [d.label for d in policy.destinations] == ["cold-wallet"]
    assert "for the demo only" in files.policy.read_text().lower()
    assert load_config(signal.config_file).sweep.destination == "cold-wallet"
    server = load_key_pair(treasury.curve_secret_file, "treasury")
    assert load_public_key(signal.treasury_public_file, "signal") == server.public
    assert list(load_authorized_clients(treasury.authorized_clients_dir).values()) == ["signal"]
    assert load_key_pair(signal.curve_secret_file, "signal").public in load_authorized_clients(
        treasury.authorized_clients_dir)
    # The signal bot's folder holds the treasury's public certificate only.
    assert not (signal.treasury_public_file.parent / "treasury.key_secret").exists()
    assert mode(treasury.curve_secret_file) == 0o600 and mode(files.treasury_keys) == 0o700


def test_a_second_run_keeps_keys_and_touches_nothing(tmp_path):
    """Idempotent: the same keys, the same bytes, every action `kept`."""
    first = prepare(tmp_path, PORTS)
    secret = first.files.treasury_keys / "treasury.key_secret"
    before = {p: p.read_bytes() for p, _ in first.actions}
    second = prepare(tmp_path, PORTS)
    assert first.first_run and not second.first_run
    assert {action for _, action in second.actions} == {"kept"}
    assert {p: p.read_bytes() for p, _ in second.actions} == before
    assert secret.read_bytes() == before[secret]


def test_a_port_change_rewrites_the_files_that_name_it_and_keeps_the_keys(tmp_path):
    """DEMO_WEBHOOK_PORT changes: signal.env and feeder.env follow; the keys stay."""
    first = prepare(tmp_path, PORTS)
    moved = DemoPorts(PORTS.sandbox, PORTS.smtp, 18888, PORTS.intent, PORTS.event)
    actions = {p.name: a for p, a in prepare(tmp_path, moved).actions}
    assert actions["signal.env"] == actions["feeder.env"] == "updated"
    assert actions["treasury.env"] == actions["treasury.toml"] == actions["treasury.key_secret"] == "kept"
    assert "127.0.0.1:18888" in first.files.feeder_env.read_text()
    assert mode(first.files.signal_env) == 0o600


def test_a_deleted_treasury_key_is_regenerated_and_the_signal_side_copy_follows(tmp_path):
    """The copies each side holds are refreshed from their source."""
    files = prepare(tmp_path, PORTS).files
    (files.treasury_keys / "treasury.key_secret").unlink()
    prepare(tmp_path, PORTS)
    assert (files.signal_keys / "treasury.key").read_bytes() == (files.treasury_keys / "treasury.key").read_bytes()


def test_supervisord_gets_the_ports_the_venv_first_and_none_of_the_bots_variables(tmp_path):
    """A TREASURY_/SIGNAL_/SMTP_ variable in the shell would override a bot's env file: dropped."""
    env = supervisord_environ(PORTS, {"PATH": "/usr/bin", "HOME": "/root", "TREASURY_API_SECRET": "x",
                                      "SIGNAL_WEBHOOK_SECRET": "y", "SMTP_HOST": "z", "LOG_LEVEL": "DEBUG"},
                              tmp_path)
    assert env["DEMO_SANDBOX_PORT"] == "17790" and env["PATH"].split(":")[0] == str(tmp_path)
    assert env["HOME"] == "/root" and env["LOG_LEVEL"] == "DEBUG" and env["PYTHONUNBUFFERED"] == "1"
    assert not {"TREASURY_API_SECRET", "SIGNAL_WEBHOOK_SECRET", "SMTP_HOST"} & set(env)


def test_stale_supervisor_files_are_removed(tmp_path):
    """A socket and pid file left by a killed supervisord do not survive the next start."""
    files = DemoFiles(tmp_path)
    files.var.mkdir()
    files.socket.write_text("")
    files.pidfile.write_text("12345\n")
    assert sorted(p.name for p in remove_stale_supervisor_files(files)) == ["supervisor.sock", "supervisord.pid"]
    assert remove_stale_supervisor_files(files) == []
