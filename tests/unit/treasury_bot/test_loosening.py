"""Tighten at once, loosen later (DESIGN section 9; issue 10 defect 5): the pure rule of
treasury_bot/loosening.py, setting by setting, over restarts, reverts and quarantine edits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.treasury import HOT_ADDRESS
from tests.support.treasury_core import T0
from treasury_bot.loosening import decode_policy, describe, encode_policy, resolve
from treasury_bot.policy_model import Destination
from tests.support.loosening_cases import (HOUR, Q, BASE, top, coins, usdt, dest, BTC, cold, hot, LOOSENINGS, TIGHTENINGS)


# -- policy builders (every change one field, on the frozen structs) ------------------------


NEW_DEST = Destination(label="third", coin="USDT", network="TRX", address=HOT_ADDRESS)


@pytest.mark.parametrize("name, old, new, setting, read, wait", LOOSENINGS, ids=[c[0] for c in LOOSENINGS])
def test_a_loosening_waits_the_stricter_quarantine_from_first_sight(name, old, new, setting, read, wait):
    """Loosened: the old value stays in force, one pending change with its times, until
    max(old, new) quarantine has run from the first sight; then the new value, no pending."""
    seen = resolve(old, new, [], T0)
    assert read(seen.effective) == read(old) and read(seen.in_force) == read(old)
    assert [(p.setting, p.first_seen_at, p.effective_at) for p in seen.pending] == [(setting, T0, T0 + wait)]
    just_before = resolve(seen.in_force, new, seen.pending, T0 + wait - 1)   # a restart, 1 ms early
    assert read(just_before.effective) == read(old)
    assert just_before.pending == seen.pending
    due = resolve(seen.in_force, new, seen.pending, T0 + wait)
    assert read(due.effective) == read(new) and read(due.in_force) == read(new) and due.pending == ()


@pytest.mark.parametrize("name, old, new, setting, read, wait", TIGHTENINGS, ids=[c[0] for c in TIGHTENINGS])
def test_a_tightening_takes_effect_at_once(name, old, new, setting, read, wait):
    """Tightened: the file's value is in force at the start that reads it, nothing pending."""
    result = resolve(old, new, [], T0)
    assert read(result.effective) == read(new) and read(result.in_force) == read(new)
    assert result.pending == ()


def test_every_loosening_listed_in_design_section_9_is_covered():
    """The table above covers each setting kind the rule names (a guard against dropping one)."""
    kinds = {c[3].rsplit(".", 1)[-1] if c[3].startswith(("limits.coins.USDT.", "destination."))
             else c[3] for c in LOOSENINGS}
    assert {"quarantine_hours", "allow_trading_key", "allow_unrestricted_ip", "limits.window_hours",
            "limits.max_transfers_per_hour", "max_per_transfer", "window_cap", "approval_above",
            "clients", "limits.coins.BTC"} <= kinds


def test_a_mixed_clients_change_gives_the_intersection_at_once_and_the_rest_later():
    """One client added, one removed: only the common ones now; the file's list after the quarantine."""
    old = dest(BASE, "hot-wallet", clients=("other", "keep"))
    new = dest(BASE, "hot-wallet", clients=("keep", "signal"))
    seen = resolve(old, new, [], T0)
    assert hot(seen.effective).clients == ("keep",)
    assert [p.setting for p in seen.pending] == ["destination.hot-wallet.clients"]
    assert hot(resolve(seen.in_force, new, seen.pending, T0 + Q).effective).clients == ("keep", "signal")


@pytest.mark.parametrize("field, value", [("address", HOT_ADDRESS), ("network", "BSC"), ("tag", "9"),
                                          ("coin", "BTC")])
def test_a_changed_destination_is_unusable_until_its_quarantine_ends(field, value):
    """Re-pointed (address, network, tag or coin): the label is quarantined, neither the old
    nor the new entry usable; the old entry stays on record; after the quarantine, the new."""
    new = dest(coins(BASE, BTC=BTC), "cold-wallet", **{field: value})
    old = coins(BASE, BTC=BTC)
    seen = resolve(old, new, [], T0)
    assert getattr(cold(seen.effective), field) == value            # decisions see the new entry...
    assert seen.usable_from["cold-wallet"] == T0 + Q                # ...and refuse it as quarantined
    assert cold(seen.in_force) == cold(old)                         # the proven entry is kept on record
    assert [p.setting for p in seen.pending] == ["destination.cold-wallet"]
    due = resolve(seen.in_force, new, seen.pending, T0 + Q)
    assert getattr(cold(due.effective), field) == value and due.usable_from["cold-wallet"] == 0


def test_a_new_destination_is_quarantined_from_first_sight():
    """A new label: present for decisions (so refused as quarantined, not unknown) until due."""
    new = top(BASE, destinations=BASE.destinations + (NEW_DEST,))
    seen = resolve(BASE, new, [], T0)
    assert seen.effective.destination("third") == NEW_DEST and seen.in_force.destination("third") is None
    assert seen.usable_from["third"] == T0 + Q and seen.usable_from["cold-wallet"] == 0
    assert resolve(seen.in_force, new, seen.pending, T0 + Q).usable_from["third"] == 0


def test_a_restart_keeps_the_first_sighting():
    """Re-seeing the same pending value keeps its first-seen and effective times."""
    new = usdt(BASE, window_cap=Decimal(9000))
    first = resolve(BASE, new, [], T0)
    again = resolve(first.in_force, new, first.pending, T0 + 10 * HOUR)
    assert again.pending == first.pending
    assert again.effective.limits.coins["USDT"].window_cap == 5000


def test_a_different_pending_value_starts_anew():
    """Edited again during its quarantine: the new value's quarantine starts at its own sight."""
    first = resolve(BASE, usdt(BASE, window_cap=Decimal(9000)), [], T0)
    other = resolve(first.in_force, usdt(BASE, window_cap=Decimal(8000)), first.pending, T0 + 10 * HOUR)
    [pending] = other.pending
    assert (pending.first_seen_at, pending.effective_at) == (T0 + 10 * HOUR, T0 + 10 * HOUR + Q)
    assert other.effective.limits.coins["USDT"].window_cap == 5000


def test_going_back_to_the_value_in_force_drops_the_pending_change():
    """Reverted: nothing pending; a later loosening to the same value starts from its new sight."""
    new = dest(BASE, "cold-wallet", address=HOT_ADDRESS)
    first = resolve(BASE, new, [], T0)
    reverted = resolve(first.in_force, BASE, first.pending, T0 + HOUR)
    assert reverted.pending == () and cold(reverted.effective) == cold(BASE)
    assert reverted.usable_from["cold-wallet"] == 0
    again = resolve(reverted.in_force, new, reverted.pending, T0 + 2 * HOUR)
    assert again.pending[0].first_seen_at == T0 + 2 * HOUR


def test_lowering_the_quarantine_never_shortens_one_already_running():
    """Not retroactive: a destination seen under 24 h stays quarantined 24 h from its first
    sight, even once a lowered quarantine_hours (1 h) has itself taken effect."""
    new = top(BASE, destinations=BASE.destinations + (NEW_DEST,))
    first = resolve(BASE, new, [], T0)
    lowered = top(new, quarantine_hours=Decimal(1))
    later = resolve(first.in_force, lowered, first.pending, T0 + HOUR)
    assert later.usable_from["third"] == T0 + Q
    # Two hours in, when `first sight + the file's 1 h` has long passed: still quarantined
    # (the old code computed usable_from = changed_at + the CURRENT quarantine: usable).
    restart = resolve(later.in_force, lowered, later.pending, T0 + 2 * HOUR)
    assert restart.usable_from["third"] == T0 + Q and restart.effective.quarantine_hours == 24
    # The lowered quarantine itself takes effect 24 h after ITS first sight; from then on a
    # new loosening waits 1 h.
    lowered_in_force = resolve(restart.in_force, lowered, restart.pending, T0 + HOUR + Q)
    assert lowered_in_force.effective.quarantine_hours == 1 and lowered_in_force.pending == ()
    wider = usdt(lowered, window_cap=Decimal(9000))
    assert resolve(lowered_in_force.in_force, wider, (), T0 + 2 * Q).pending[0].effective_at == T0 + 2 * Q + HOUR


def test_raising_the_quarantine_extends_one_already_running():
    """A raised quarantine (48 h) applies at once, and extends a running one to 48 h from first sight."""
    new = top(BASE, destinations=BASE.destinations + (NEW_DEST,))
    first = resolve(BASE, new, [], T0)
    raised = resolve(first.in_force, top(new, quarantine_hours=Decimal(48)), first.pending, T0 + HOUR)
    assert raised.effective.quarantine_hours == 48 and raised.usable_from["third"] == T0 + 2 * Q


def test_a_first_start_takes_the_file_but_quarantines_its_destinations():
    """Nothing recorded: the file is the baseline; every destination is new (as before)."""
    first = resolve(None, BASE, [], T0)
    assert first.effective.limits == BASE.limits and first.in_force.destinations == ()
    assert dict(first.usable_from) == {"cold-wallet": T0 + Q, "hot-wallet": T0 + Q}


def test_a_ledger_from_before_the_rule_keeps_destinations_already_proven():
    """Upgrade: destinations_seen's last change dates the quarantine of an unchanged entry."""
    first = resolve(None, BASE, [], T0, legacy_changed_at={"cold-wallet": T0 - Q, "hot-wallet": T0 - HOUR})
    assert first.usable_from["cold-wallet"] == 0 and first.usable_from["hot-wallet"] == T0 - HOUR + Q


def test_the_policy_in_force_round_trips_through_its_canonical_json():
    """What is recorded is what is read back at the next start."""
    policy = coins(dest(BASE, "hot-wallet", clients=("a", "b")), BTC=BTC)
    assert decode_policy(encode_policy(policy)) == policy
    assert encode_policy(decode_policy(encode_policy(policy))) == encode_policy(policy)


def test_a_pending_loosening_reads_as_one_line_with_its_utc_time():
    """For the start summary and treasuryctl: setting, old -> new, when it takes effect (UTC)."""
    [pending] = resolve(BASE, dest(BASE, "cold-wallet", address=HOT_ADDRESS), [], T0).pending
    line = describe(pending)
    assert line.startswith("destination.cold-wallet: USDT/TRX ") and HOT_ADDRESS in line
    assert "takes effect 2023-11-15T22:13:20.000Z" in line and "\n" not in line


# -- where the operator sees them --------------------------------------------------------------

def test_the_start_summary_mail_shows_every_pending_loosening_on_its_own_line_uncut():
    """Each pending loosening is one row of the mail's facts, none cut short."""
    from treasury_bot.alerts import events, render
    long_line = "destination.cold-wallet: (none) -> USDT/TRX " + "T" * 200 + " takes effect X"
    alert = events.start_summary(at_ms=T0, version="1", api_key=None, policy_sha256="0" * 64,
                                 destinations=2, open_withdrawals=0, pending_approvals=0, mail="log",
                                 pending_loosenings=["quarantine_hours: 24 -> 2 takes effect Y", long_line])
    lines = render.fact_lines(alert)
    first = next(i for i, line in enumerate(lines) if "Pending loosenings:" in line)
    assert lines[first].endswith("quarantine_hours: 24 -> 2 takes effect Y")
    assert lines[first + 1].strip() == long_line


def test_an_override_in_its_quarantine_refuses_the_start_and_says_when_it_applies():
    """allow_unrestricted_ip just turned on: the audit judges the policy in force (off) and
    the refusal names the time the override takes effect."""
    from common.binance import Account, ApiRestrictions
    from treasury_bot.audit import audit_key
    seen = resolve(BASE, top(BASE, allow_unrestricted_ip=True), [], T0)
    restrictions = ApiRestrictions(ip_restrict=False, enable_withdrawals=True,
                                   enable_spot_and_margin_trading=False, enable_reading=True)
    account = Account(can_trade=False, can_withdraw=True, can_deposit=True, balances=[])
    findings = audit_key(restrictions, account, seen.effective, {p.setting: p.effective_at for p in seen.pending})
    [ip] = [f for f in findings if f.check == "key is IP-restricted"]
    assert ip.fatal and "overrides from 2023-11-15T22:13:20.000Z" in ip.detail


@pytest.mark.parametrize("new, shown", [
    (dest(BASE, "hot-wallet", clients=None), "destination.hot-wallet.clients: [other] -> (every client) "),
    (usdt(BASE, approval_above=None), "limits.coins.USDT.approval_above: 800 -> (no approval) "),
    (dest(BASE, "cold-wallet", window_cap=None), "destination.cold-wallet.window_cap: 2000 -> (no limit) "),
])
def test_an_absent_value_reads_as_what_it_means(new, shown):
    """`clients` absent is every client, a cap absent no limit: never a bare "none"."""
    [pending] = resolve(BASE, new, [], T0).pending
    assert describe(pending).startswith(shown)


def test_shadow_to_live_waits_the_quarantine_and_live_to_shadow_is_at_once():
    """Issue 13 item 7: starting to send money is a loosening; going back to shadow tightens at once."""
    import msgspec
    shadow = msgspec.structs.replace(BASE, mode="shadow")
    waiting = resolve(shadow, BASE, (), T0)
    assert waiting.effective.mode == "shadow"
    assert [p.setting for p in waiting.pending] == ["mode"]
    assert waiting.pending[0].effective_at == T0 + BASE.quarantine_ms
    later = resolve(shadow, BASE, waiting.pending, T0 + BASE.quarantine_ms)
    assert later.effective.mode == "live" and later.pending == ()
    back = resolve(BASE, shadow, (), T0)
    assert back.effective.mode == "shadow" and back.pending == ()


def test_a_loosening_released_by_the_quorum_is_in_force_at_once_and_only_that_sighting():
    """Issue 13: a pending loosening released (setting, first seen) is in force now, nothing
    pending; a release of another sighting of the same setting does nothing."""
    new = usdt(BASE, max_per_transfer=Decimal(2000))
    seen = resolve(BASE, new, [], T0)
    [pending] = seen.pending
    other = resolve(seen.in_force, new, seen.pending, T0 + HOUR, released=frozenset({(pending.setting, T0 - 1)}))
    assert other.effective.limits.coins["USDT"].max_per_transfer == BASE.limits.coins["USDT"].max_per_transfer
    released = resolve(seen.in_force, new, seen.pending, T0 + HOUR,
                       released=frozenset({(pending.setting, pending.first_seen_at)}))
    assert released.effective.limits.coins["USDT"].max_per_transfer == Decimal(2000)
    assert released.in_force.limits.coins["USDT"].max_per_transfer == Decimal(2000) and released.pending == ()
