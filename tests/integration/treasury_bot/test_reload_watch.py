"""Issue 16 item 1: the policy-file breaker and a reload, over a real file and ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.clock import FakeClock
from tests.support.treasury_core import T0, make_policy, open_ledger
from treasury_bot import breakers, freeze


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def test_an_edit_adopted_by_a_reload_within_the_grace_never_trips(tmp_path: Path, ledger):
    """Edit, then a reload adopts the new bytes before the grace ends: no freeze, ever."""
    clock = FakeClock(T0)
    path = tmp_path / "treasury.toml"
    path.write_text("a = 1\n")
    watch = breakers.PolicyFileWatch(path, breakers.file_sha256(path), make_policy(), clock, grace_s=60)
    path.write_text("a = 2\n")
    assert watch.check(ledger) is False
    clock.advance(30)
    watch.adopt(breakers.file_sha256(path))
    clock.advance(60)
    assert watch.check(ledger) is False and freeze.current(ledger) is None


def test_an_edit_left_without_a_reload_trips_when_the_grace_ends(tmp_path: Path, ledger):
    """Edit and no reload: quiet during the grace, then policy_changed freezes the treasury."""
    clock = FakeClock(T0)
    path = tmp_path / "treasury.toml"
    path.write_text("a = 1\n")
    watch = breakers.PolicyFileWatch(path, breakers.file_sha256(path), make_policy(), clock, grace_s=60)
    path.write_text("a = 2\n")
    assert watch.check(ledger) is False
    clock.advance(59)
    assert watch.check(ledger) is False
    clock.advance(2)
    assert watch.check(ledger) is True
    assert freeze.current(ledger).breaker == "policy_changed"


def test_a_second_edit_after_a_reload_starts_its_own_grace_and_trips(tmp_path: Path, ledger):
    """Adopted bytes are the new baseline: a later unreloaded edit still trips."""
    clock = FakeClock(T0)
    path = tmp_path / "treasury.toml"
    path.write_text("a = 1\n")
    watch = breakers.PolicyFileWatch(path, breakers.file_sha256(path), make_policy(), clock, grace_s=10)
    path.write_text("a = 2\n")
    watch.adopt(breakers.file_sha256(path))
    path.write_text("a = 3\n")
    assert watch.check(ledger) is False
    clock.advance(11)
    assert watch.check(ledger) is True
