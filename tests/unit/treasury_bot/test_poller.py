"""The poller's pure steps: batches of 45, status mapping, what changed, the stuck rule
(the poller against a real ledger is in tests/integration/treasury_bot/test_poller.py)."""

from __future__ import annotations

import pytest

from common.binance import WithdrawRecord, Amount
from tests.support.treasury_core import (T0)
from treasury_bot.ledger import IntentRecord, WithdrawalRecord
from treasury_bot.poller import MAX_IDS, StatusChange, changes, pick_batch, stuck

MINUTE = 60_000


def open_item(seq: int, *, polled: int | None = None, withdrawal_id: str | None = "w", status: str = "submitted",
              tx_id: str | None = None, submitted_at: int | None = T0, alerted: bool = False):
    intent = IntentRecord(seq=seq, intent_id=f"i{seq}", client="signal", coin="USDT", network="TRX",
                          destination="cold-wallet", amount="10", reason="", created_at=T0, received_at=T0,
                          outcome="accepted", reason_code=None, detail="", status=status, updated_at=T0,
                          address="A", tag=None, counted_at=T0)
    withdrawal = WithdrawalRecord(intent_seq=seq, withdrawal_id=withdrawal_id and f"{withdrawal_id}{seq}",
                                  tx_id=tx_id, exchange_status=None, attempts=1, first_attempt_at=T0,
                                  last_attempt_at=T0, unknown_since=None, submitted_at=submitted_at,
                                  finished_at=None, last_polled_at=polled, error_code=None, error_message=None,
                                  stuck_alerted=alerted)
    return intent, withdrawal


def record(withdrawal_id: str, status: int, tx_id: str | None = None, info: str | None = None) -> WithdrawRecord:
    return WithdrawRecord(id=withdrawal_id, amount=Amount("10"), transaction_fee=Amount("1"), coin="USDT",
                          address="A", status=status, apply_time="2023-11-14 22:13:20", tx_id=tx_id, info=info)


def test_pick_batch_takes_at_most_45_least_recently_polled_never_polled_first():
    """Never polled (by seq) first, then the oldest polls; ids only; at most 45."""
    items = [open_item(seq, polled=None if seq % 10 == 0 else T0 + (100 - seq)) for seq in range(1, 61)]
    items.append(open_item(61, withdrawal_id=None))
    batch = pick_batch(items)
    assert len(batch) == MAX_IDS == 45
    seqs = [intent.seq for intent, _ in batch]
    assert seqs[:6] == [10, 20, 30, 40, 50, 60]
    assert seqs[6:9] == [59, 58, 57]  # polled longest ago next
    assert 61 not in seqs
    assert pick_batch(items, limit=2) == [items[9], items[19]]


@pytest.mark.parametrize("code, name", [(0, "email_sent"), (1, "cancelled"), (2, "awaiting_approval"),
                                        (3, "rejected"), (4, "processing"), (5, "failed"), (6, "completed")])
def test_changes_map_every_exchange_status(code, name):
    """Binance's 0..6 become DESIGN's status names."""
    item = open_item(1)
    assert changes([item], [record("w1", code, tx_id="tx", info="why")]) == [
        StatusChange(1, name, code, "tx", "why")]


def test_changes_report_only_what_changed():
    """Same status and tx id: nothing; a new tx id alone: a change; unknown codes and ids: ignored."""
    same = open_item(1, status="processing", tx_id="tx")
    assert changes([same], [record("w1", 4, tx_id="tx")]) == []
    assert changes([same], [record("w1", 4, tx_id="tx2")]) == [StatusChange(1, "processing", 4, "tx2", None)]
    assert changes([open_item(2, status="processing")], [record("w2", 4, tx_id="")]) == []
    assert changes([open_item(3)], [record("w3", 7)]) == []
    assert changes([open_item(4)], [record("other", 6)]) == []


def test_stuck_is_strictly_after_the_limit_and_only_once():
    """Submitted longer ago than the limit and not yet alerted; unsubmitted never counts."""
    limit = 60 * MINUTE
    items = [open_item(1), open_item(2, alerted=True), open_item(3, submitted_at=None)]
    assert stuck(items, T0 + limit, limit) == []
    assert [r.seq for r in stuck(items, T0 + limit + 1, limit)] == [1]
