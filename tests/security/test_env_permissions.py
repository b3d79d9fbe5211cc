"""Env files hold the API secrets: a file others can read is warned about (DESIGN section 4).

Both bots start with a loose env file (a warning, not a refusal: the operator may be
mid-migration), and say so in their log, naming the file and its mode; with 0600 they
say nothing. The bots are real processes; the mode rule itself is checked in-process.
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from common.config import load_env
from tests.support.sandbox import Sandbox, sandbox_process
from tests.support.signal_proc import SignalBot
from tests.support.treasury_proc import TreasuryProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Iterator[Sandbox]:
    with sandbox_process(tmp_path_factory.mktemp("env-perm-sandbox")) as running:
        yield running


@pytest.mark.parametrize("mode, warned", [(0o600, False), (0o400, False), (0o640, True), (0o604, True),
                                          (0o644, True), (0o666, True)])
def test_any_group_or_other_permission_on_an_env_file_is_a_warning(tmp_path, mode, warned):
    """The rule: a bit for group or others set on the env file gives a warning naming its mode."""
    env = tmp_path / "bot.env"
    env.write_text("LOG_LEVEL=INFO\n")
    env.chmod(mode)
    warnings = load_env(env).warnings
    assert bool(warnings) == warned
    if warned:
        assert f"has mode {mode:04o}" in warnings[0] and str(env) in warnings[0]


def test_the_treasury_warns_about_a_0644_env_file_and_not_about_0600(tmp_path, sandbox):
    """`treasury-bot run` with its env file at 0600 logs no warning; at 0644 it logs
    `env_file_permissions` naming the file and the mode, and still serves."""
    treasury = TreasuryProcess(tmp_path, sandbox)
    assert os.stat(treasury.env_path).st_mode & 0o777 == 0o600
    treasury.start()
    assert treasury.terminate() == 0
    assert "env_file_permissions" not in treasury.log()
    treasury.env_path.chmod(0o644)
    treasury.start()
    try:
        second = (treasury.dir / "treasury.2.log").read_text()
        assert "level=warning" in second and "event=env_file_permissions" in second
        assert f"{treasury.env_path} has mode 0644" in second
    finally:
        assert treasury.terminate() == 0


def test_the_signal_bot_warns_about_a_0644_env_file_and_not_about_0600(tmp_path, sandbox):
    """`signal-bot run` with its env file at 0600 logs no warning; at 0644 it logs
    `config_warning` naming the file and the mode, and still starts."""
    treasury = TreasuryProcess(tmp_path, sandbox)   # its keys and endpoints only: not started
    bot = SignalBot(tmp_path / "bot", sandbox, treasury)
    env = tmp_path / "bot" / "signal.env"
    assert bot.proc.terminate() == 0
    assert "config_warning" not in bot.proc.log()
    env.chmod(0o644)
    bot.proc.start()
    try:
        wait_until(lambda: bot.proc.log().count("event=signal_bot_started") == 2, timeout=20,
                   what="the second start")
        log = bot.proc.log()
        assert "level=warning" in log and "event=config_warning" in log
        assert f"{env} has mode 0644" in log
    finally:
        assert bot.proc.terminate() == 0
