"""Deciding batches of intents in one ledger transaction: idempotency, usage growing within
a batch, what counts, what is journaled and alerted."""

from __future__ import annotations

import pytest

from common.clock import FakeClock
from common.messages import Decision
from tests.support.treasury_core import (T0, decide, incoming,
                                                  make_policy, open_ledger)
from treasury_bot.batch_plan import same_intent


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


POLICY = make_policy()


def one(ledger, clock, intent_id, amount="100", policy=POLICY, **over) -> Decision:
    over.setdefault("created_at", clock.now_ms())
    return decide(ledger, policy, clock, incoming(intent_id, amount, **over)).replies[0]


def test_same_intent_compares_every_field_of_content():
    """Client, coin, network, destination, amount by value, reason and created_at all matter."""
    from treasury_bot.ledger import IntentRecord
    record = IntentRecord(seq=1, intent_id="s", client="signal", coin="USDT", network="TRX", destination="cold-wallet",
                          amount="20", reason="sweep", created_at=T0, received_at=T0, outcome="accepted",
                          reason_code=None, detail="", status="queued", updated_at=T0, address=None, tag=None,
                          counted_at=T0)
    assert same_intent(record, "signal", incoming("s", "20.00").intent)
    assert not same_intent(record, "signal", incoming("s", "20.01").intent)
    assert not same_intent(record, "signal", incoming("s", "20", network="BSC").intent)
    assert not same_intent(record, "other", incoming("s", "20").intent)
