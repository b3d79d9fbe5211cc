"""The event listener on a real CURVE SUB socket, fed by the fake treasury's PUB socket."""

from __future__ import annotations

import logging

from common import messages
from common.intent_client import EventSubscriber
from signal_bot.events import EventListener
from tests.support.ports import free_port
from tests.support.waiting import wait_until
from tests.support.fake_treasury import CurveFiles, FakeTreasury


def test_each_withdrawal_event_is_logged_and_passed_on(tmp_path, caplog):
    """A published event becomes one treasury_event line and reaches the callback."""
    files = CurveFiles.make(tmp_path)
    treasury = FakeTreasury(files, free_port(), free_port()).start()
    seen: list[messages.WithdrawalEvent] = []
    listener = EventListener(lambda: EventSubscriber(treasury.event_endpoint, files.signal_keys(),
                                                     files.server_public()), on_event=seen.append, poll_seconds=0.05)
    event = messages.WithdrawalEvent(intent_id="sw-1", status="completed", withdrawal_id="w1", tx_id="tx", at=5)
    try:
        with caplog.at_level(logging.INFO):
            listener.start()
            assert listener.wait_ready(5)

            def delivered():  # slow joiner: publish until the subscription is up
                if not seen:
                    treasury.publish(event)
                return seen
            wait_until(delivered, timeout=10, interval=0.1, what="the event")
    finally:
        assert listener.stop()
        treasury.stop()
    assert seen[0] == event
    lines = [r for r in caplog.records if r.getMessage() == "treasury_event"]
    assert lines and lines[0].fields["intent_id"] == "sw-1" and lines[0].fields["status"] == "completed"
