"""The intent client when the treasury is down or silent: a bounded wait, never a hang; the frame is the same on every try."""

from __future__ import annotations

import time

import pytest

from common import messages
from common.intent_client import IntentClient, TreasuryUnavailable
from tests.support.ports import free_port
from tests.support.fake_treasury import CurveFiles, FakeTreasury

INTENT = messages.TransferIntent(intent_id="link-1", coin="USDT", network="TRX", destination="cold-wallet",
                                 amount="25", reason="test", created_at=1)


def test_no_treasury_raises_unavailable_after_the_tries(tmp_path):
    """Nothing listening: TreasuryUnavailable after about retries x timeout, not a hang."""
    curve = CurveFiles.make(tmp_path)
    client = IntentClient(f"tcp://127.0.0.1:{free_port()}", curve.signal_keys(), curve.server_public(),
                            timeout=0.2, retries=3)
    began = time.monotonic()
    with pytest.raises(TreasuryUnavailable):
        client.send_intent(INTENT)
    assert time.monotonic() - began < 3
    client.close()


def test_a_lost_reply_is_retried_with_the_same_frame(tmp_path):
    """The first request is swallowed; the resend is identical and gets the decision."""
    curve = CurveFiles.make(tmp_path)
    treasury = FakeTreasury(curve, free_port(), free_port(), drop_replies=1).start()
    client = IntentClient(treasury.intent_endpoint, curve.signal_keys(), curve.server_public(),
                            timeout=0.3, retries=3)
    try:
        reply = client.send_intent(INTENT)
    finally:
        client.close()
        treasury.stop()
    assert isinstance(reply, messages.Decision) and reply.outcome == "accepted"
    assert treasury.transfer_requests() == [INTENT, INTENT]


def test_should_stop_ends_the_tries(tmp_path):
    """A stopping worker does not wait through every try."""
    curve = CurveFiles.make(tmp_path)
    client = IntentClient(f"tcp://127.0.0.1:{free_port()}", curve.signal_keys(), curve.server_public(),
                            timeout=5, retries=5)
    with pytest.raises(TreasuryUnavailable):
        client.request(INTENT, should_stop=lambda: True)
    client.close()


def test_an_unlisted_client_key_gets_no_answer(tmp_path):
    """CURVE with ZAP: a key not in the allow-list is never answered."""
    curve = CurveFiles.make(tmp_path / "a")
    stranger = CurveFiles.make(tmp_path / "b")
    treasury = FakeTreasury(curve, free_port(), free_port()).start()
    client = IntentClient(treasury.intent_endpoint, stranger.signal_keys(), curve.server_public(),
                            timeout=0.3, retries=1)
    try:
        with pytest.raises(TreasuryUnavailable):
            client.ping()
    finally:
        client.close()
        treasury.stop()
    assert treasury.requests == []
