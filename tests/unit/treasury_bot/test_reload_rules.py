"""Issue 16 item 1: the pure parts of a reload (allow-list changes, key rotation, the
shared policy holder, the signal bot's unaudited symbols)."""

from __future__ import annotations

from pathlib import PurePosixPath

import msgspec

from common.config.fields import ApiCredentials
from tests.support.loosening_cases import BASE, usdt
from treasury_bot.loosening import resolve
from treasury_bot.policy_in_force import LivePolicy, PolicyInForce
from treasury_bot.reload import client_changes, key_rotation, pid_file_for


def test_client_changes_name_the_added_and_the_removed_clients():
    """Keys that appear are added, keys that disappear removed, both by name, sorted."""
    old = {b"k1": "signal", b"k2": "other"}
    new = {b"k1": "signal", b"k3": "intruder", b"k4": "alpha"}
    assert client_changes(old, new) == (["alpha", "intruder"], ["other"])
    assert client_changes(old, dict(old)) == ([], [])


def test_a_key_rotation_is_a_different_key_or_secret():
    """The same key and secret is no rotation; another key or another secret is one."""
    a = ApiCredentials("test-key-not-real-0001", "test-secret-not-real-0001")
    assert not key_rotation(a, ApiCredentials(a.key, a.secret))
    assert key_rotation(a, ApiCredentials("test-key-not-real-0002", a.secret))
    assert key_rotation(a, ApiCredentials(a.key, "test-secret-not-real-0002"))


def test_the_pid_file_sits_beside_the_ledger():
    """<ledger>.pid, so treasuryctl finds it from the same env file."""
    assert str(pid_file_for(PurePosixPath("/var/lib/t/ledger.sqlite"))) == "/var/lib/t/ledger.sqlite.pid"


def test_the_policy_holder_shows_every_reader_the_swapped_policy_at_once():
    """A worker's PolicyInForce reads the policy swapped into the shared LivePolicy, no restart."""
    now = 1_700_000_000_000
    first = resolve(None, BASE, [], now)
    live = LivePolicy(BASE, first)
    view = PolicyInForce(live, lambda: now)
    assert view.limits == BASE.limits
    tighter = usdt(BASE, max_per_transfer=msgspec.structs.asdict(BASE.limits.coins["USDT"])["max_per_transfer"] / 2)
    second = resolve(first.in_force, tighter, first.pending, now)
    live.swap(tighter, second)
    assert view.limits.coins["USDT"].max_per_transfer == tighter.limits.coins["USDT"].max_per_transfer
    assert view.destinations == second.effective.destinations


def test_a_loosening_swapped_in_waits_for_its_quarantine():
    """Raised cap on a reload: the holder shows the old cap until the pending loosening is due."""
    now = 1_700_000_000_000
    first = resolve(None, BASE, [], now)
    live = LivePolicy(BASE, first)
    view = PolicyInForce(live, lambda: now)
    old_cap = BASE.limits.coins["USDT"].max_per_transfer
    looser = usdt(BASE, max_per_transfer=old_cap * 2)
    second = resolve(first.in_force, looser, first.pending, now)
    assert second.pending
    live.swap(looser, second)
    assert view.limits.coins["USDT"].max_per_transfer == old_cap
    later = live.at(second.next_due_ms)
    assert later.effective.limits.coins["USDT"].max_per_transfer == old_cap * 2


def test_the_signal_bot_refuses_a_symbol_the_start_did_not_audit():
    """unaudited_symbols names what the new config adds beyond the audited rules."""
    from types import SimpleNamespace

    from signal_bot.reload import unaudited_symbols
    config = SimpleNamespace(risk=SimpleNamespace(symbols=("BTCUSDT", "ETHUSDT")))
    assert unaudited_symbols(config, {"BTCUSDT"}) == ["ETHUSDT"]
    assert unaudited_symbols(config, {"BTCUSDT", "ETHUSDT"}) == []
