"""The intent server on real CURVE sockets with a real ledger file (no exchange needed:
deciding never touches the exchange's network)."""

from __future__ import annotations

import msgspec
import pytest
import zmq

from common import __version__, messages
from common.curve import configure_client
from common.intent_client import EventSubscriber, TreasuryUnavailable
from tests.support.ledger_peek import peek_one
from tests.support.treasury import InProcessServer, make_curve, policy, wire_intent as intent
from tests.support.waiting import wait_until


@pytest.fixture
def server(tmp_path):
    srv = InProcessServer(tmp_path, make_curve(tmp_path), policy()).start()
    yield srv
    srv.close()


def count_rows(srv: InProcessServer, table: str) -> int:
    return peek_one(srv.ledger_path, f"SELECT COUNT(*) FROM {table}")


def raw_dealer(srv: InProcessServer, name: str = "signal") -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    configure_client(sock, srv.curve.keys(name), srv.curve.server_public)
    sock.connect(srv.intent_endpoint)
    return sock


def test_ping_answers_pong_with_the_package_version(server):
    """A ping gets a pong carrying the package version."""
    with server.client("signal") as client:
        assert client.ping() == messages.Pong(version=__version__)


def test_accepted_intent_is_queued_and_journaled(server):
    """A valid intent within every limit is accepted with status queued and stored once."""
    with server.client("signal") as client:
        reply = client.send_intent(intent("acc-1"))
    assert reply == messages.Decision(intent_id="acc-1", outcome="accepted", reason_code=None,
                                      detail=reply.detail, status="queued")
    assert count_rows(server, "intents") == 1
    assert count_rows(server, "transitions") == 1


def test_same_intent_twice_gets_the_first_decision_and_one_row(server):
    """Resending an intent (equal amount spelled differently) replays its decision."""
    with server.client("signal") as client:
        first = client.send_intent(intent("dup-1", amount="20", created_at=1_000_000))
        again = client.send_intent(intent("dup-1", amount="20.000", created_at=1_000_000))
    assert first.outcome == "rejected" and first.reason_code == "stale_intent"
    assert again == first
    assert count_rows(server, "intents") == 1


def test_other_content_under_a_used_id_is_a_conflict_and_leaves_the_original(server):
    """Same id, other amount: rejected intent_id_conflict, journaled apart, original untouched."""
    with server.client("signal") as client:
        first = client.send_intent(intent("conf-1", amount="100"))
        clash = client.send_intent(intent("conf-1", amount="101"))
        state = client.status("conf-1")
    assert first.outcome == "accepted"
    assert (clash.outcome, clash.reason_code, clash.status) == ("rejected", "intent_id_conflict", "denied")
    assert state.outcome == "accepted" and state.status == "queued"
    assert count_rows(server, "refused_requests") == 1


def test_another_client_reusing_an_id_is_a_conflict(server):
    """intent_id is unique across clients: another client's reuse is refused."""
    with server.client("signal") as signal, server.client("other") as other:
        signal.send_intent(intent("shared-1"))
        clash = other.send_intent(intent("shared-1"))
    assert clash.reason_code == "intent_id_conflict"


def test_intent_status_is_only_for_the_owner(server):
    """A client sees its own intents; another client's is unknown_intent."""
    with server.client("signal") as signal, server.client("other") as other:
        signal.send_intent(intent("own-1"))
        mine = signal.status("own-1")
        theirs = other.status("own-1")
        missing = signal.status("never-sent")
    assert isinstance(mine, messages.IntentState) and mine.status == "queued"
    assert mine.withdrawal_id is None and mine.tx_id is None
    assert theirs == messages.Error(code="unknown_intent", detail=theirs.detail)
    assert missing.code == "unknown_intent"


def test_policy_rejection_gives_reason_code_and_status_denied(server):
    """A label outside the whitelist is rejected with unknown_destination and journaled."""
    with server.client("signal") as client:
        reply = client.send_intent(intent("unk-1", destination="nowhere"))
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "unknown_destination", "denied")
    assert count_rows(server, "intents") == 1
    assert count_rows(server, "alert_outbox") == 1


def test_destination_closed_to_a_client_is_client_not_allowed(server):
    """hot-wallet lists only the client `other`; `signal` is refused."""
    with server.client("signal") as client:
        reply = client.send_intent(intent("cna-1", destination="hot-wallet"))
    assert reply.reason_code == "client_not_allowed"


def test_amount_above_approval_threshold_waits_for_the_operator(server):
    """An amount above approval_above (800, under the coin cap) is pending_approval."""
    with server.client("other") as client:
        reply = client.send_intent(intent("appr-1", amount="850", destination="hot-wallet"))
    assert (reply.outcome, reply.reason_code, reply.status) == (
        "pending_approval", "approval_required", "pending_approval")


MALFORMED = [
    {"type": "transfer_intent"},
    {"type": "transfer_intent", "intent_id": "x", "coin": "USDT", "network": "TRX",
     "destination": "cold-wallet", "amount": 1.5, "reason": "r", "created_at": 1},
    {"type": "transfer_intent", "intent_id": "x", "coin": "USDT", "network": "TRX",
     "destination": "cold-wallet", "amount": "NaN", "reason": "r", "created_at": 1},
    {"type": "transfer_intent", "intent_id": "x", "coin": "USDT", "network": "TRX",
     "destination": "cold-wallet", "amount": "1", "reason": "r", "created_at": 1, "address": "T..."},
    {"type": "ping", "extra": 1},
    {"intent_id": "x"},
    [1, 2, 3],
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_frames_get_error_malformed_and_change_nothing(server, body):
    """Schema failures answer error/malformed and write nothing to the ledger."""
    with server.client("signal") as client:
        reply = client.request(_Raw(msgspec.msgpack.encode(body)))
        assert isinstance(reply, messages.Error) and reply.code == "malformed"
        assert client.ping().version == __version__
    assert count_rows(server, "intents") == 0
    assert count_rows(server, "alert_outbox") == 0


def test_unknown_type_is_unknown_type(server):
    """A present but unknown tag is error/unknown_type."""
    with server.client("signal") as client:
        reply = client.request(_Raw(msgspec.msgpack.encode({"type": "withdraw_everything"})))
    assert reply.code == "unknown_type"


def test_not_msgpack_is_malformed(server):
    """Bytes that are not MessagePack are error/malformed."""
    with server.client("signal") as client:
        reply = client.request(_Raw(b"\xc1\xc1 not msgpack"))
    assert reply.code == "malformed"


def test_dealer_with_delimiter_is_answered_and_extra_frames_are_malformed(server):
    """DEALER with the empty delimiter works; two payload frames get error/malformed."""
    sock = raw_dealer(server)
    try:
        sock.send_multipart([b"", messages.encode(messages.Ping())])
        assert sock.poll(3000)
        empty, body = sock.recv_multipart()
        assert empty == b"" and isinstance(messages.decode_reply(body), messages.Pong)
        sock.send_multipart([b"", messages.encode(messages.Ping()), b"extra"])
        assert sock.poll(3000)
        _, body = sock.recv_multipart()
        assert messages.decode_reply(body).code == "malformed"
    finally:
        sock.close()


def test_dealer_without_delimiter_is_dropped_and_the_server_keeps_serving(server):
    """A DEALER frame without the empty delimiter gets no reply; the next request does."""
    sock = raw_dealer(server)
    try:
        sock.send(messages.encode(messages.Ping()))
        assert sock.poll(500) == 0
        sock.send_multipart([b"", messages.encode(messages.Ping())])
        assert sock.poll(3000)
    finally:
        sock.close()


def test_unlisted_key_gets_no_reply(server):
    """A CURVE key outside the allow-list never gets a connection (ZAP denies it)."""
    from common.intent_client import IntentClient
    intruder = IntentClient(server.intent_endpoint, server.curve.keys("intruder"),
                            server.curve.server_public, timeout=0.5, retries=2)
    with pytest.raises(TreasuryUnavailable):
        intruder.ping()
    intruder.close()
    assert count_rows(server, "intents") == 0


def test_plain_text_client_gets_no_reply(server):
    """A client without CURVE gets nothing."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.intent_endpoint)
    try:
        sock.send(messages.encode(messages.Ping()))
        assert sock.poll(700) == 0
    finally:
        sock.close()


def test_oversize_frame_is_dropped_and_the_server_keeps_serving(server):
    """A frame over 64 KiB is dropped by libzmq (no reply); other clients are served."""
    sock = raw_dealer(server)
    try:
        sock.send_multipart([b"", b"\x80" + b"x" * (messages.MAX_FRAME_BYTES + 10)])
        assert sock.poll(700) == 0
    finally:
        sock.close()
    with server.client("signal") as client:
        assert client.ping().version == __version__


def test_accepted_intents_are_published_as_events(server):
    """Subscribers see a `queued` event for accepted intents (retrying past the slow joiner)."""
    subscriber = EventSubscriber(server.event_endpoint, server.curve.keys("signal"), server.curve.server_public)
    seen: list[messages.WithdrawalEvent] = []
    counter = iter(range(1000))
    try:
        with server.client("signal") as client:
            def an_event_arrived():
                client.send_intent(intent(f"ev-{next(counter)}", amount="10"))
                event = subscriber.receive(0.2)
                if event:
                    seen.append(event)
                return bool(seen)
            wait_until(an_event_arrived, timeout=10, what="a withdrawal event")
    finally:
        subscriber.close()
    assert seen[0].status == "queued" and seen[0].intent_id.startswith("ev-")


class _Raw(msgspec.Struct):
    """Lets a test push arbitrary bytes through IntentClient.request."""

    payload: bytes


@pytest.fixture(autouse=True)
def _raw_encoding(monkeypatch):
    original = messages.encode
    monkeypatch.setattr(messages, "encode",
                        lambda message: message.payload if isinstance(message, _Raw) else original(message))
