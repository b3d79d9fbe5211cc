"""Signed operator actions on a real ledger (issue 13 item 3): a quorum of distinct
operators moves an intent, the first rejection rejects it, a refusal records nothing,
pending intents expire on the treasury's exchange-anchored clock, and unfreeze takes the
quorum too."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.clock import FakeClock
from tests.support.treasury import COIN_RULES
from tests.support.treasury_core import T0, HOUR_MS, accept, alerts, count, make_policy, open_ledger
from treasury_bot import freeze, quorum
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.operator import OperatorError, approve
from treasury_bot.operator_actions import ApprovalExpiry, act, expire_due, load_operator_keys
from treasury_bot.policy_model import Approvals
from treasury_bot.trusted_clock import AnchoredClock

BASE = make_policy(window_cap="2000", approval_above="500", max_per_transfer="1000", cold_max=None)
POLICY = msgspec.structs.replace(BASE, approvals=Approvals(quorum=2, ttl_hours=4, operators=("alice", "bob", "carol")))
PRIVATE = {name: Ed25519PrivateKey.generate() for name in ("alice", "bob", "carol")}
KEYS = {name: key.public_key() for name, key in PRIVATE.items()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    with opened.transaction():
        opened.save_coin_rules(to_snapshot(COIN_RULES), T0 - 1)
        for d in POLICY.destinations:
            opened.upsert_destination_seen(d.label, d.coin, d.network, d.address, d.tag, T0 - 1, T0 - 1)
    yield opened
    opened.close()


def pending(ledger, clock, intent_id="p-1", amount="600"):
    record = accept(ledger, POLICY, clock, intent_id, amount)
    assert record.status == "pending_approval"
    return record


def vote(ledger, clock, name, action="approve", subject="p-1", *, nonce=None, key=None, policy=POLICY):
    signed = quorum.sign(key or PRIVATE[name], action=action, subject=subject, operator=name,
                         signed_at=clock.now_ms(), nonce=nonce)
    return act(ledger, policy, signed, KEYS, lambda _l: clock.now_ms(), "local")


def refused(call) -> str:
    with pytest.raises((quorum.QuorumError, OperatorError, freeze.FreezeError)) as caught:
        call()
    return caught.value.code


def test_two_distinct_approvals_queue_the_intent_and_one_does_not(ledger, clock):
    """Quorum 2: the first approval is recorded and waits; the second, by another operator, queues it."""
    pending(ledger, clock)
    first = vote(ledger, clock, "alice")
    assert first.status == "pending_approval" and "1 of 2" in first.message
    assert ledger.get_intent("p-1").status == "pending_approval"
    clock.advance(60)
    second = vote(ledger, clock, "bob")
    record = ledger.get_intent("p-1")
    assert (second.status, record.status, record.outcome) == ("queued", "queued", "accepted")
    assert "approved by alice, bob" in record.detail
    assert record.counted_at == T0 + 60_000   # counts from the moment the quorum was reached
    assert [(r.operator, r.action, r.via) for r in ledger.operator_actions_of("p-1")] == [
        ("alice", "approve", "local"), ("bob", "approve", "local")]


def test_the_same_operator_twice_is_refused_and_still_counts_once(ledger, clock):
    """A second signature by alice is already_voted: nothing recorded, the intent still waits."""
    pending(ledger, clock)
    vote(ledger, clock, "alice")
    assert refused(lambda: vote(ledger, clock, "alice")) == "already_voted"
    assert count(ledger, "operator_actions") == 1
    assert ledger.get_intent("p-1").status == "pending_approval"


def test_a_replayed_signed_action_is_refused(ledger, clock):
    """The very same signed action sent twice: the second is `replayed`, on another subject too."""
    pending(ledger, clock)
    pending(ledger, clock, "p-2")
    signed = quorum.sign(PRIVATE["alice"], action="approve", subject="p-1", operator="alice", signed_at=T0)
    act(ledger, POLICY, signed, KEYS, lambda _l: clock.now_ms(), "local")
    assert refused(lambda: act(ledger, POLICY, signed, KEYS, lambda _l: clock.now_ms(), "remote")) == "replayed"
    reused = quorum.sign(PRIVATE["alice"], action="approve", subject="p-2", operator="alice", signed_at=T0,
                         nonce=signed.nonce)
    assert refused(lambda: act(ledger, POLICY, reused, KEYS, lambda _l: clock.now_ms(), "local")) == "replayed"
    assert count(ledger, "operator_actions") == 1


def test_a_rejection_after_one_approval_rejects_and_uncounts_and_alerts(ledger, clock):
    """alice approves, bob rejects: rejected/operator_rejected, denied, out of the windows, mailed."""
    pending(ledger, clock)
    vote(ledger, clock, "alice")
    result = vote(ledger, clock, "bob", "reject")
    record = ledger.get_intent("p-1")
    assert (result.status, record.status, record.outcome, record.reason_code) == (
        "denied", "denied", "rejected", "operator_rejected")
    assert record.counted_at is None and "bob" in record.detail
    assert [a[0] for a in alerts(ledger, "intent_rejected")] == ["intent_rejected"]
    assert refused(lambda: vote(ledger, clock, "carol")) == "wrong_status"


@pytest.mark.parametrize("case, code", [("unknown", "unknown_operator"), ("bad", "bad_signature"),
                                        ("stale", "stale_signature"), ("no-intent", "unknown_intent")])
def test_a_refused_signed_action_records_nothing(ledger, clock, case, code):
    """An unlisted operator, a wrong key, an old signature or an unknown intent: refused, no row, no move."""
    pending(ledger, clock)
    mallory = Ed25519PrivateKey.generate()
    keys = {**KEYS, "mallory": mallory.public_key()}
    calls = {
        "unknown": lambda: act(ledger, POLICY, quorum.sign(mallory, action="approve", subject="p-1",
                                                           operator="mallory", signed_at=T0),
                               keys, lambda _l: T0, "local"),
        "bad": lambda: vote(ledger, clock, "alice", key=mallory),
        "stale": lambda: act(ledger, POLICY, quorum.sign(PRIVATE["alice"], action="approve", subject="p-1",
                                                         operator="alice", signed_at=T0 - HOUR_MS),
                             KEYS, lambda _l: T0, "local"),
        "no-intent": lambda: vote(ledger, clock, "alice", subject="nope"),
    }
    assert refused(calls[case]) == code
    assert count(ledger, "operator_actions") == 0
    assert ledger.get_intent("p-1").status == "pending_approval"


def test_the_quorum_approval_refused_by_the_recheck_records_nothing(ledger, clock):
    """At the M-th approval the intent is re-checked; refused now (the rules went stale), that vote
    is not recorded either, and a later approval can still reach the quorum."""
    pending(ledger, clock)
    vote(ledger, clock, "alice")
    clock.advance(3600)   # the saved coin rules are now an hour old
    assert refused(lambda: vote(ledger, clock, "bob")) == "exchange_rules_stale"
    assert count(ledger, "operator_actions") == 1
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(COIN_RULES), clock.now_ms())
    assert vote(ledger, clock, "bob").status == "queued"


def test_an_unsigned_approval_is_refused_when_operators_are_listed(ledger, clock):
    """With [approvals] operators, `approve ID` without --operator: signature_required, nothing moves."""
    pending(ledger, clock)
    with pytest.raises(OperatorError) as caught:
        approve(ledger, POLICY, "p-1", clock)
    assert caught.value.code == "signature_required"
    assert ledger.get_intent("p-1").status == "pending_approval"


def test_a_signed_action_is_refused_when_no_operators_are_listed(ledger, clock):
    """Quorum 1 with no operators (the default): signatures are not counted, approve stays unsigned."""
    record = accept(ledger, BASE, clock, "p-1", "600")
    assert record.status == "pending_approval"
    assert refused(lambda: vote(ledger, clock, "alice", policy=BASE)) == "unknown_operator"


def test_a_pending_intent_expires_at_ttl_hours_uncounted_and_alerted(ledger, clock):
    """Not approved within ttl_hours: rejected/approval_expired, denied, out of the windows, mailed."""
    record = pending(ledger, clock)
    assert expire_due(ledger, POLICY, record.received_at + 4 * HOUR_MS - 1) == []
    assert expire_due(ledger, POLICY, record.received_at + 4 * HOUR_MS) == ["p-1"]
    expired = ledger.get_intent("p-1")
    assert (expired.status, expired.outcome, expired.reason_code) == ("denied", "rejected", "approval_expired")
    assert expired.counted_at is None
    assert alerts(ledger, "intent_rejected")
    assert refused(lambda: vote(ledger, clock, "alice")) == "wrong_status"


def test_a_host_clock_stepped_forward_does_not_expire_an_intent_early(ledger, clock):
    """The expiry reads the exchange-anchored clock: a +10 h host wall step expires nothing; the
    monotonic passage of ttl_hours does."""
    anchored = AnchoredClock(clock, lambda: clock.now_ms())
    anchored.measure()
    pending(ledger, clock)
    expiry = ApprovalExpiry(ledger, POLICY, anchored, every_s=1.0)
    clock.step_wall(10 * HOUR_MS)
    assert expiry.step() == 1.0
    assert ledger.get_intent("p-1").status == "pending_approval"
    clock.advance(4 * 3600)   # four real hours (the host wall moves with them)
    expiry.step()
    assert ledger.get_intent("p-1").reason_code == "approval_expired"


def test_unfreeze_lifts_the_freeze_at_the_quorum_of_distinct_operators(ledger, clock):
    """Each signed unfreeze is a vote on the standing freeze; at two it lifts, by both names."""
    standing = freeze.freeze(ledger, by="carol", reason="drill", now=T0)
    subject = quorum.freeze_subject(standing.seq)
    assert vote(ledger, clock, "alice", "unfreeze", subject).status == "frozen"
    assert freeze.current(ledger) is not None
    assert refused(lambda: vote(ledger, clock, "alice", "unfreeze", subject)) == "already_voted"
    assert vote(ledger, clock, "bob", "unfreeze", subject).status == "unfrozen"
    assert freeze.current(ledger) is None
    assert ledger.freeze_history(1)[0].unfrozen_by == "alice, bob"
    # A new freeze needs new votes: the old ones were on the old seq.
    again = freeze.freeze(ledger, by="carol", reason="drill 2", now=T0 + 1)
    assert refused(lambda: vote(ledger, clock, "alice", "unfreeze", subject)) == "other_freeze"
    assert vote(ledger, clock, "alice", "unfreeze", quorum.freeze_subject(again.seq)).status == "frozen"


def test_operator_keys_load_from_the_folder_and_a_bad_file_is_named(tmp_path):
    """operators/NAME.pub.pem: each loads by its name; a file that is no Ed25519 key is a ConfigError."""
    from common.binance.ed25519 import public_pem
    from common.config import ConfigError
    folder = tmp_path / "operators"
    folder.mkdir()
    (folder / "alice.pub.pem").write_bytes(public_pem(KEYS["alice"]))
    assert list(load_operator_keys(folder)) == ["alice"]
    assert load_operator_keys(tmp_path / "absent") == {}
    (folder / "bob.pub.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="bob.pub.pem"):
        load_operator_keys(folder)


def test_a_pending_loosening_released_early_at_the_quorum(ledger, clock):
    """Two signed loosen_early votes on a pending raise: released, in force from the ledger's view
    (the treasury's next start); one vote alone, or an unknown setting, releases nothing."""
    from treasury_bot.policy_in_force import record, resolve_from_ledger
    strict = msgspec.structs.replace(POLICY, quarantine_hours=POLICY.quarantine_hours + 24)
    raised_cap = msgspec.structs.replace(strict, limits=msgspec.structs.replace(
        strict.limits, max_transfers_per_hour=strict.limits.max_transfers_per_hour + 10))
    with ledger.transaction():
        record(ledger, resolve_from_ledger(ledger, strict, T0), T0)
    with ledger.transaction():
        record(ledger, resolve_from_ledger(ledger, raised_cap, T0), T0)
    [pending] = [p for p in resolve_from_ledger(ledger, raised_cap, T0).pending
                 if p.setting == "limits.max_transfers_per_hour"]
    subject = quorum.loosening_subject(pending.setting, pending.first_seen_at)
    assert refused(lambda: vote(ledger, clock, "alice", "loosen_early", quorum.loosening_subject("nope", T0),
                                policy=raised_cap)) == "no_such_loosening"
    assert vote(ledger, clock, "alice", "loosen_early", subject, policy=raised_cap).status == "pending"
    def waiting(at):
        return [p.setting for p in resolve_from_ledger(ledger, raised_cap, at).pending]
    assert "limits.max_transfers_per_hour" in waiting(T0)
    assert vote(ledger, clock, "bob", "loosen_early", subject, policy=raised_cap).status == "released"
    now = resolve_from_ledger(ledger, raised_cap, T0 + 1)
    assert [a[:2] for a in alerts(ledger, "loosening_released")] == [("loosening_released", "CRITICAL")]
    assert "limits.max_transfers_per_hour" not in waiting(T0 + 1) and now.effective.limits.max_transfers_per_hour == raised_cap.limits.max_transfers_per_hour


def test_the_expiry_follows_a_reloaded_policy_a_shorter_ttl_at_once(ledger, clock):
    """Issue 16: the approvals thread reads the running LivePolicy's file, so a reload that
    shortens ttl_hours (a tightening) expires a waiting intent at its next step."""
    from treasury_bot.policy_in_force import LivePolicy, resolve_from_ledger
    record = pending(ledger, clock)
    live = LivePolicy(POLICY, resolve_from_ledger(ledger, POLICY, T0))
    expiry = ApprovalExpiry(ledger, POLICY, clock, every_s=1.0, live=live)
    clock.advance(2 * 3600)
    expiry.step()
    assert ledger.get_intent(record.intent_id).status == "pending_approval"   # 4 h ttl: not yet
    shorter = msgspec.structs.replace(POLICY, approvals=msgspec.structs.replace(POLICY.approvals, ttl_hours=1))
    live.swap(shorter, resolve_from_ledger(ledger, shorter, clock.now_ms()))
    expiry.step()
    assert ledger.get_intent(record.intent_id).reason_code == "approval_expired"
