"""The treasury's CURVE key rotation with an overlap (issue 16 item 3), on real CURVE
sockets and a real ledger: a second ROUTER/PUB with the new key pair, decided by the same
server loop, so an intent carried by either endpoint is decided once."""

from __future__ import annotations

import pytest

from common import messages
from common.curve import load_public_key
from common.intent_client import EventSubscriber, TreasuryUnavailable
from tests.support.ledger_peek import peek_one
from tests.support.treasury import InProcessServer, make_curve, policy, wire_intent as intent
from tests.support.waiting import wait_until


@pytest.fixture
def server(tmp_path):
    srv = InProcessServer(tmp_path, make_curve(tmp_path), policy(), rotating=True).start()
    yield srv
    srv.close()


def test_both_endpoints_decide_into_the_same_ledger(server):
    """One client on the old key's endpoint, another on the new key's: both accepted, one ledger."""
    with server.client("signal") as old, server.client_next("other") as new:
        assert old.send_intent(intent("old-1", amount="10")).outcome == "accepted"
        assert new.send_intent(intent("new-1", amount="10")).outcome == "accepted"
    assert peek_one(server.ledger_path, "SELECT COUNT(*) FROM intents") == 2


def test_an_intent_resent_on_the_new_endpoint_gets_its_first_decision(server):
    """A client moving mid-retry: the same intent id on the new endpoint is a replay, one row."""
    moving = intent("moving-1", amount="10")
    with server.client("signal") as old:
        first = old.send_intent(moving)
    with server.client_next("signal") as new:
        again = new.send_intent(moving)
    assert again == first and first.outcome == "accepted"
    assert peek_one(server.ledger_path, "SELECT COUNT(*) FROM intents") == 1
    assert peek_one(server.ledger_path, "SELECT COUNT(*) FROM refused_requests") == 0


def test_the_new_endpoint_speaks_only_with_the_new_server_key(server):
    """A client holding the OLD treasury public key gets no answer on the new endpoint."""
    with server.client_next("signal", timeout=0.3, retries=1, server_public=server.curve.server_public) as wrong:
        with pytest.raises(TreasuryUnavailable):
            wrong.ping()
    with server.client_next("signal") as right:
        assert right.ping().version


def test_events_are_published_on_both_feeds(server):
    """A subscriber of the new key's feed sees the queued event of an intent sent on the old endpoint."""
    new_public = load_public_key(server.next_public, "treasury-next")
    subscriber = EventSubscriber(server.next_event_endpoint, server.curve.keys("signal"), new_public)
    seen: list[messages.WithdrawalEvent] = []
    counter = iter(range(1000))
    try:
        with server.client("signal") as client:
            def an_event_arrived():
                client.send_intent(intent(f"feed-{next(counter)}", amount="10"))
                event = subscriber.receive(0.2)
                if event:
                    seen.append(event)
                return bool(seen)
            wait_until(an_event_arrived, timeout=10, what="an event on the new key's feed")
    finally:
        subscriber.close()
    assert seen[0].status == "queued" and seen[0].intent_id.startswith("feed-")
