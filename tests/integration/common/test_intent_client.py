"""The treasury's client against a real CURVE ROUTER in-process: Lazy Pirate resends the
same frame after a timeout, gives up with TreasuryUnavailable, never hangs; the event feed."""

from __future__ import annotations

import threading
import time

import pytest
import zmq
import zmq.auth.thread

from common import messages
from common.curve import configure_server, generate, load_key_pair
from common.intent_client import EventSubscriber, IntentClient, TreasuryUnavailable
from tests.support.ports import free_port
from tests.support.waiting import wait_until

INTENT = messages.TransferIntent(intent_id="lp-1", coin="USDT", network="TRX", destination="cold-wallet",
                                 amount="20", reason="sweep", created_at=1_700_000_000_000)
REPLY = messages.Decision(intent_id="lp-1", outcome="accepted", reason_code=None, detail="", status="queued")


class Keys:
    def __init__(self, folder):
        self.server = load_key_pair(generate(folder / "keys", "treasury")[1], "treasury")
        self.client = load_key_pair(generate(folder / "keys", "signal")[1], "signal")
        self.stranger = load_key_pair(generate(folder / "keys", "stranger")[1], "stranger")
        self.clients_dir = folder / "allowed"
        self.clients_dir.mkdir()
        (self.clients_dir / "signal.key").write_bytes((folder / "keys" / "signal.key").read_bytes())


class ScriptedRouter:
    """A CURVE ROUTER that ignores the first `drop` requests and answers the rest with `reply`
    (bytes), recording every frame and peer identity it received."""

    def __init__(self, keys: Keys, *, drop: int = 0, reply: bytes = messages.encode(REPLY),
                 allow_list: bool = False) -> None:
        self.keys, self.drop, self.reply, self.allow_list = keys, drop, reply, allow_list
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.frames: list[bytes] = []
        self.peers: list[bytes] = []
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        context = zmq.Context()
        auth = None
        try:
            if self.allow_list:
                auth = zmq.auth.thread.ThreadAuthenticator(context)
                auth.start()
                auth.configure_curve(domain="*", location=str(self.keys.clients_dir))
            sock = context.socket(zmq.ROUTER)
            sock.setsockopt(zmq.LINGER, 0)
            configure_server(sock, self.keys.server)
            sock.bind(self.endpoint)
            self.ready.set()
            while not self.stop.is_set():
                if not sock.poll(20):
                    continue
                peer, empty, frame = sock.recv_multipart()
                self.frames.append(frame)
                self.peers.append(peer)
                if len(self.frames) > self.drop:
                    sock.send_multipart([peer, empty, self.reply])
        finally:
            if auth is not None:
                auth.stop()
            context.destroy(linger=0)

    def __enter__(self) -> "ScriptedRouter":
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def keys(tmp_path) -> Keys:
    return Keys(tmp_path)


def client_for(keys: Keys, endpoint: str, *, timeout: float = 0.3, retries: int = 3, pair=None) -> IntentClient:
    return IntentClient(endpoint, pair or keys.client, keys.server.public, timeout=timeout, retries=retries)


def test_a_reply_on_the_first_try_is_returned_decoded(keys):
    """One send, one reply, decoded to the reply struct."""
    with ScriptedRouter(keys) as router, client_for(keys, router.endpoint, timeout=2.0) as client:
        assert client.send_intent(INTENT) == REPLY
    assert router.frames == [messages.encode(INTENT)]


def test_after_a_timeout_the_same_frame_is_resent_on_a_new_socket(keys):
    """Lazy Pirate: silence, close, reopen, resend the very same bytes (same intent_id)."""
    with ScriptedRouter(keys, drop=2) as router, client_for(keys, router.endpoint, retries=3) as client:
        assert client.send_intent(INTENT) == REPLY
    assert len(router.frames) == 3
    assert set(router.frames) == {messages.encode(INTENT)}
    assert len(set(router.peers)) == 3  # each try came from a fresh REQ socket


def test_it_gives_up_after_the_last_try_with_treasury_unavailable(keys):
    """Every try unanswered: TreasuryUnavailable after exactly `retries` sends."""
    with ScriptedRouter(keys, drop=99) as router, client_for(keys, router.endpoint, retries=3) as client:
        started = time.monotonic()
        with pytest.raises(TreasuryUnavailable) as caught:
            client.send_intent(INTENT)
        elapsed = time.monotonic() - started
    assert caught.value.code == "treasury_unavailable"
    assert len(router.frames) == 3
    assert 0.8 <= elapsed < 3.0


def test_it_never_hangs_when_nothing_listens(keys):
    """With no server, each try is bounded by the timeout and the client gives up."""
    client = client_for(keys, f"tcp://127.0.0.1:{free_port()}", timeout=0.2, retries=2)
    started = time.monotonic()
    with pytest.raises(TreasuryUnavailable):
        client.ping()
    assert time.monotonic() - started < 2.0
    client.close()


def test_the_client_can_be_used_again_after_giving_up(keys):
    """After TreasuryUnavailable, a later request on the same client works when the server is back."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    client = client_for(keys, endpoint, timeout=0.2, retries=1)
    with pytest.raises(TreasuryUnavailable):
        client.send_intent(INTENT)
    router = ScriptedRouter(keys)
    router.endpoint = endpoint
    with router:
        client.timeout = 2.0
        assert client.send_intent(INTENT) == REPLY
    client.close()


def test_should_stop_ends_the_tries_without_sending(keys):
    """A stop request (shutdown) ends the loop before the next try."""
    with ScriptedRouter(keys, drop=99) as router, client_for(keys, router.endpoint) as client:
        with pytest.raises(TreasuryUnavailable):
            client.request(INTENT, should_stop=lambda: True)
    assert router.frames == []


def test_a_malformed_reply_is_a_wire_error(keys):
    """A reply outside the contract raises WireError rather than passing garbage on."""
    with ScriptedRouter(keys, reply=b"\xc1") as router, client_for(keys, router.endpoint, timeout=2.0) as client:
        with pytest.raises(messages.WireError):
            client.ping()


def test_status_and_ping_send_their_requests(keys):
    """status() sends intent_status with the id; ping() sends ping."""
    with ScriptedRouter(keys, reply=messages.encode(messages.Pong(version="x"))) as router, \
            client_for(keys, router.endpoint, timeout=2.0) as client:
        client.status("lp-9")
        client.ping()
    assert [messages.decode_request(f) for f in router.frames] == [messages.IntentStatus(intent_id="lp-9"),
                                                                   messages.Ping()]


def test_a_client_outside_the_allow_list_gets_no_reply(keys):
    """With ZAP running, an unlisted key is never connected: TreasuryUnavailable, nothing received."""
    with ScriptedRouter(keys, allow_list=True) as router:
        with client_for(keys, router.endpoint, timeout=2.0) as listed:
            assert listed.ping() == REPLY
        with client_for(keys, router.endpoint, timeout=0.3, retries=2, pair=keys.stranger) as stranger:
            with pytest.raises(TreasuryUnavailable):
                stranger.ping()
    assert len(router.frames) == 1


class Publisher:
    def __init__(self, keys: Keys) -> None:
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        configure_server(self.sock, keys.server)
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.sock.bind(self.endpoint)

    def close(self) -> None:
        self.context.destroy(linger=0)


def test_the_event_subscriber_receives_events_and_skips_malformed_ones(keys):
    """Well-formed events are decoded; wrong frame counts and bad payloads give None."""
    event = messages.WithdrawalEvent(intent_id="e-1", status="completed", withdrawal_id="w", tx_id="t", at=5)
    publisher = Publisher(keys)
    subscriber = EventSubscriber(publisher.endpoint, keys.client, keys.server.public)
    try:
        def joined():  # slow joiner: publish until the subscription has arrived
            publisher.sock.send_multipart([messages.EVENT_TOPIC, messages.encode(event)])
            return subscriber.receive(0.05)
        assert wait_until(joined, timeout=5, what="first event") == event
        publisher.sock.send_multipart([messages.EVENT_TOPIC, b"\xc1"])
        assert subscriber.receive(2.0) is None
        publisher.sock.send_multipart([messages.EVENT_TOPIC, messages.encode(event), b"extra"])
        assert subscriber.receive(2.0) is None
        publisher.sock.send_multipart([messages.EVENT_TOPIC, messages.encode(event)])
        assert subscriber.receive(2.0) == event
        assert subscriber.receive(0.05) is None
    finally:
        subscriber.close()
        publisher.close()
