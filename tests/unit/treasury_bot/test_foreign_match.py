"""The foreign-withdrawal watch's judgement and windows (treasury_bot/foreign_match.py; issue 13 item 5)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.binance import WithdrawRecord
from common.binance.endpoints import HISTORY_MAX_WINDOW_MS
from treasury_bot import foreign_match, lifecycle
from treasury_bot.foreign_match import DAY_MS, KnownIntent, judge, judge_all
from treasury_bot.ledger import IntentRecord

ADDRESS = "TXtestAddressNotReal0000000000001"
NOW = 1_700_000_000_000


def record(id_: str = "wd-1", order_id: str | None = "i-1", amount: str = "25", address: str = ADDRESS,
           apply_time: str = "2023-11-14 22:13:20") -> WithdrawRecord:
    return WithdrawRecord(id=id_, amount=Decimal(amount), transaction_fee=Decimal("1"), coin="USDT",
                          address=address, status=6, apply_time=apply_time, withdraw_order_id=order_id,
                          network="TRX")


def intent(status: str, intent_id: str = "i-1", amount: str = "25") -> IntentRecord:
    return IntentRecord(seq=7, intent_id=intent_id, client="signal", coin="USDT", network="TRX",
                        destination="cold-wallet", amount=amount, reason="test", created_at=NOW, received_at=NOW,
                        outcome="accepted", reason_code=None, detail="", status=status, updated_at=NOW,
                        address=ADDRESS, tag=None, counted_at=NOW)


def test_a_withdrawal_whose_exchange_id_the_ledger_holds_is_ours_even_if_it_differs():
    """By id it is ours: a difference in amount is reconciliation's job (needs_review), not foreign."""
    assert judge(record(amount="999"), ours={"wd-1"}, already=set(), intents={}) is None


def test_a_withdrawal_already_recorded_as_foreign_is_not_found_again():
    """Once per withdrawal: the table's row stops a second alert."""
    assert judge(record(), ours=set(), already={"wd-1"}, intents={}) is None


def test_a_withdrawal_with_no_order_id_and_an_unknown_exchange_id_is_foreign():
    """Made on the website or by another tool: nothing ties it to the ledger."""
    finding = judge(record(order_id=None), ours=set(), already=set(), intents={})
    assert finding is not None and finding.intent_seq is None
    assert "no withdrawOrderId" in finding.detail


def test_a_withdrawal_with_an_intent_id_the_ledger_never_had_is_foreign():
    """A restored ledger's lost withdrawal: its order id is an intent id this ledger does not know."""
    finding = judge(record(order_id="lost-1"), ours=set(), already=set(), intents={})
    assert finding is not None and finding.intent_seq is None
    assert "no intent this ledger has" in finding.detail


def test_our_apply_in_flight_is_ours():
    """submitting with no exchange id yet: the executor's own apply, adopted by it or by reconciliation."""
    known = {"i-1": KnownIntent(intent(lifecycle.SUBMITTING), None)}
    assert judge(record(), ours=set(), already=set(), intents=known) is None


def test_a_second_withdrawal_carrying_our_intent_id_is_foreign():
    """Our id on a withdrawal that is not the one the ledger recorded: a double, alerted."""
    known = {"i-1": KnownIntent(intent(lifecycle.COMPLETED), "wd-0")}
    finding = judge(record(), ours={"wd-0"}, already=set(), intents=known)
    assert finding is not None and finding.intent_seq is None and "second withdrawal" in finding.detail


@pytest.mark.parametrize("status", [lifecycle.QUEUED, lifecycle.PENDING_APPROVAL, lifecycle.FAILED])
def test_a_withdrawal_of_an_intent_the_ledger_holds_but_never_sent_is_tied_to_it(status):
    """A restored ledger's queued intent the exchange already paid: foreign, and tied to the
    intent so that the executor adopts it instead of applying again."""
    known = {"i-1": KnownIntent(intent(status), None)}
    finding = judge(record(), ours=set(), already=set(), intents=known)
    assert finding is not None and finding.intent_seq == 7
    assert "coin, amount and address match" in finding.detail


def test_a_tied_withdrawal_that_differs_from_its_intent_says_how():
    """The same id with another amount: still foreign, the difference named."""
    known = {"i-1": KnownIntent(intent(lifecycle.QUEUED, amount="30"), None)}
    finding = judge(record(amount="25"), ours=set(), already=set(), intents=known)
    assert finding is not None and "amount 25" in finding.detail


def test_judge_all_reports_each_withdrawal_once_oldest_first():
    """The same record from two windows or pages is one finding; the order is by apply time."""
    newer = record("wd-2", None, apply_time="2023-11-15 00:00:00")
    older = record("wd-1", None, apply_time="2023-11-14 00:00:00")
    found = judge_all([newer, older, newer], ours=set(), already=set(), intents={})
    assert [f.record.id for f in found] == ["wd-1", "wd-2"]


def test_windows_are_each_under_binances_ninety_days_and_cover_the_span():
    """A year back is cut into windows shorter than 90 days, newest first, touching."""
    start, end = NOW - 365 * DAY_MS, NOW
    cut = foreign_match.windows(start, end)
    assert cut[0][1] == end and cut[-1][0] == start
    assert all(top - bottom < HISTORY_MAX_WINDOW_MS for bottom, top in cut)
    assert all(cut[i][0] == cut[i + 1][1] for i in range(len(cut) - 1))
    assert foreign_match.windows(end, start) == []


def test_the_start_looks_back_to_the_ledgers_first_start_less_a_day_capped():
    """A young ledger: from its birth less the margin; an old one: the cap; a new one: the cap."""
    assert foreign_match.start_lookback(NOW - 3 * DAY_MS, NOW, 90) == NOW - 4 * DAY_MS
    assert foreign_match.start_lookback(NOW - 400 * DAY_MS, NOW, 90) == NOW - 90 * DAY_MS
    assert foreign_match.start_lookback(None, NOW, 30) == NOW - 30 * DAY_MS


def test_a_scheduled_pass_reads_two_intervals_back_and_at_least_an_hour():
    """A missed pass is covered; a short interval still reads the last hour."""
    assert foreign_match.recent_lookback(NOW, 300) == NOW - 3_600_000
    assert foreign_match.recent_lookback(NOW, 7200) == NOW - 14_400_000
