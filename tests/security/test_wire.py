"""The wire's defences, against a real `treasury-bot run` process (issue 7 item 5).

tests/unit/treasury_bot/test_server.py checks the same rules on the in-process server
(its ROUTER only); these run the deployed shape, a real process with its env file and
key files, and add what the unit tests do not: the PUB socket (an unlisted or plain
subscriber sees no event), the exact 64 KiB boundary, the disconnection of a peer that
sends more, and that none of it leaves a row in the ledger or stops the treasury.
Hypothesis-driven wire fuzzing is tests/fuzz's job.
"""

from __future__ import annotations

import time
from typing import Iterator

import msgspec
import pytest
import zmq
import zmq.utils.monitor

from common import messages
from common.curve import configure_client
from common.intent_client import EventSubscriber, IntentClient, TreasuryUnavailable
from tests.support.sandbox import sandbox_process
from tests.support.treasury_proc import TreasuryProcess, new_intent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

NO_REPLY_MS = 700


@pytest.fixture(scope="module")
def treasury(tmp_path_factory) -> Iterator[TreasuryProcess]:
    folder = tmp_path_factory.mktemp("wire-security")
    with sandbox_process(folder, complete_after_seconds=0.5) as sandbox:
        process = TreasuryProcess(folder, sandbox).start()
        try:
            yield process
        finally:
            assert process.terminate() == 0


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def dealer(context: zmq.Context, treasury: TreasuryProcess, name: str = "signal") -> zmq.Socket:
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    configure_client(sock, treasury.curve.keys(name), treasury.curve.server_public)
    sock.connect(treasury.intent_endpoint)
    return sock


def intents_in_ledger(treasury: TreasuryProcess) -> int:
    return treasury.query("SELECT COUNT(*) FROM intents")[0][0] + treasury.query(
        "SELECT COUNT(*) FROM refused_requests")[0][0]


def still_answers(treasury: TreasuryProcess) -> bool:
    with treasury.client("signal") as client:
        return client.ping().version is not None


def events_until(subscriber: EventSubscriber, treasury: TreasuryProcess, prefix: str) -> list:
    """Send accepted intents until the authorised subscriber has seen one (slow joiner)."""
    seen, counter = [], iter(range(1000))
    with treasury.client("signal") as client:
        def arrived() -> bool:
            client.send_intent(new_intent(f"{prefix}-{next(counter)}", amount="10"))
            event = subscriber.receive(0.2)
            if event is not None:
                seen.append(event)
            return bool(seen)
        wait_until(arrived, timeout=15, what="an event at the authorised subscriber")
    return seen


def test_a_plain_text_client_gets_no_reply_and_a_plain_subscriber_no_event(treasury, context):
    """Without CURVE: a REQ gets nothing, a SUB sees none of the events an authorised
    subscriber sees, and nothing reaches the ledger."""
    before = intents_in_ledger(treasury)
    req = context.socket(zmq.REQ)
    req.setsockopt(zmq.LINGER, 0)
    req.connect(treasury.intent_endpoint)
    req.send(messages.encode(new_intent("plain-1", amount="10")))
    assert req.poll(NO_REPLY_MS) == 0
    assert intents_in_ledger(treasury) == before

    plain_sub = context.socket(zmq.SUB)
    plain_sub.setsockopt(zmq.LINGER, 0)
    plain_sub.setsockopt(zmq.SUBSCRIBE, b"")
    plain_sub.connect(treasury.event_endpoint)
    subscriber = EventSubscriber(treasury.event_endpoint, treasury.curve.keys("other"), treasury.curve.server_public)
    try:
        assert events_until(subscriber, treasury, "plain-ev")
        assert plain_sub.poll(NO_REPLY_MS) == 0
    finally:
        subscriber.close()
    assert still_answers(treasury)


def test_an_unlisted_curve_key_gets_no_reply_and_no_event(treasury, context):
    """A well-formed CURVE client whose key is not in the allow-list: no reply to its
    intent (ZAP denies the connection), no event on its subscription, no ledger row."""
    before = intents_in_ledger(treasury)
    intruder = IntentClient(treasury.intent_endpoint, treasury.curve.keys("intruder"),
                            treasury.curve.server_public, timeout=0.4, retries=2, context=context)
    with pytest.raises(TreasuryUnavailable):
        intruder.send_intent(new_intent("intruder-1", amount="10"))
    intruder.close()
    assert intents_in_ledger(treasury) == before

    spy = EventSubscriber(treasury.event_endpoint, treasury.curve.keys("intruder"), treasury.curve.server_public,
                          context=context)
    subscriber = EventSubscriber(treasury.event_endpoint, treasury.curve.keys("signal"), treasury.curve.server_public)
    try:
        assert events_until(subscriber, treasury, "spy-ev")
        assert spy.receive(NO_REPLY_MS / 1000) is None
    finally:
        subscriber.close()
        spy.close()
    assert "intruder" not in "".join(r[0] for r in treasury.query("SELECT DISTINCT client FROM intents"))


def oversized_intent(frame_bytes: int) -> bytes:
    """A transfer_intent MessagePack map padded (in `reason`) to exactly `frame_bytes`."""
    def frame(pad: int) -> bytes:
        return msgspec.msgpack.encode({
            "type": "transfer_intent", "intent_id": "big-1", "coin": "USDT", "network": "TRX",
            "destination": "cold-wallet", "amount": "10", "reason": "x" * pad, "created_at": int(time.time() * 1000)})
    pad = frame_bytes - len(frame(0))
    for _ in range(4):  # the string header grows with the length: settle on the exact size
        pad += frame_bytes - len(frame(pad))
    body = frame(pad)
    assert len(body) == frame_bytes
    return body


def test_a_frame_of_exactly_64_kib_is_read_and_one_byte_more_is_dropped_with_the_peer(treasury, context):
    """MAXMSGSIZE is 64 KiB: a frame of exactly that size arrives (its 65,000-character
    reason is `malformed`); one byte more never arrives, libzmq disconnects the peer, and
    the treasury goes on answering. Neither leaves a ledger row."""
    before = intents_in_ledger(treasury)
    sock = dealer(context, treasury)
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    try:
        sock.send_multipart([b"", oversized_intent(messages.MAX_FRAME_BYTES)])
        assert sock.poll(3000), "a frame of exactly 64 KiB should be read and answered"
        reply = messages.decode_reply(sock.recv_multipart()[-1])
        assert isinstance(reply, messages.Error) and reply.code == "malformed", reply

        def next_event(kind: int) -> bool:
            while monitor.poll(100):
                if zmq.utils.monitor.recv_monitor_message(monitor)["event"] == kind:
                    return True
            return False
        # The first handshake happened before the 64 KiB frame went through; drain it.
        next_event(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        sock.send_multipart([b"", oversized_intent(messages.MAX_FRAME_BYTES + 1)])
        wait_until(lambda: next_event(zmq.EVENT_DISCONNECTED), timeout=5,
                   what="the treasury to drop the connection of the oversize sender")
        assert sock.poll(NO_REPLY_MS) == 0
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)
    assert intents_in_ledger(treasury) == before
    assert still_answers(treasury)


def test_extra_frames_get_error_malformed_and_a_missing_delimiter_no_reply(treasury, context):
    """A valid intent followed by a second payload frame is `error`/`malformed` and not
    journaled; a DEALER frame without the empty delimiter is dropped; the next good
    request on the same socket is decided."""
    before = intents_in_ledger(treasury)
    sock = dealer(context, treasury)
    try:
        sock.send_multipart([b"", messages.encode(new_intent("extra-1", amount="10")), b"extra"])
        assert sock.poll(3000)
        reply = messages.decode_reply(sock.recv_multipart()[-1])
        assert isinstance(reply, messages.Error) and reply.code == "malformed", reply
        sock.send(messages.encode(new_intent("nodelim-1", amount="10")))
        assert sock.poll(NO_REPLY_MS) == 0
        assert intents_in_ledger(treasury) == before
        sock.send_multipart([b"", messages.encode(new_intent("good-after-1", amount="10"))])
        assert sock.poll(3000)
        reply = messages.decode_reply(sock.recv_multipart()[-1])
        assert isinstance(reply, messages.Decision) and reply.outcome == "accepted", reply
    finally:
        sock.close(linger=0)
    assert treasury.status_of("extra-1") is None and treasury.status_of("nodelim-1") is None
    assert intents_in_ledger(treasury) == before + 1
