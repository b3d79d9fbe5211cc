"""The treasury's client: requests over CURVE with the Lazy Pirate pattern, and the event feed.

Lazy Pirate (zguide ch. 4): send on a REQ socket, wait up to `timeout`; on silence close
the socket (LINGER 0: a REQ socket that timed out refuses to send again) and open a new
one, then resend the SAME frame, so a lost reply can never turn into a second intent:
the treasury answers a repeated intent_id with its first decision.
"""

from __future__ import annotations

import threading
from typing import Callable

import zmq

from common import messages
from common.curve import KeyPair, configure_client
from common.logs import get_logger

log = get_logger("intent_client")


class TreasuryUnavailable(Exception):
    """No reply after every try; the caller may try again later with the same intent_id."""

    code = "treasury_unavailable"


class IntentClient:
    """One REQ connection at a time to the treasury; not thread-safe (one per thread)."""

    def __init__(self, endpoint: str, keys: KeyPair, server_public: bytes, *,
                 timeout: float = 2.5, retries: int = 3, context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        self._keys = keys
        self._server_public = server_public
        self.timeout = timeout
        self.retries = retries
        self._context = context or zmq.Context.instance()
        self._socket: zmq.Socket | None = None

    def _open(self) -> zmq.Socket:
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # park nothing on a link that is not up
        # With IMMEDIATE and no connection up, send blocks: bound it like the reply.
        sock.setsockopt(zmq.SNDTIMEO, int(self.timeout * 1000))
        configure_client(sock, self._keys, self._server_public)
        sock.connect(self.endpoint)
        return sock

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def request(self, message, *, should_stop: Callable[[], bool] | None = None):
        """Send one request; return the decoded reply or raise TreasuryUnavailable."""
        frame = messages.encode(message)
        for attempt in range(1, self.retries + 1):
            if should_stop is not None and should_stop():
                break
            if self._socket is None:
                self._socket = self._open()
            try:
                self._socket.send(frame)
            except zmq.Again:
                why = "no_link"  # no connection came up in time; counts as a try without reply
            else:
                if self._socket.poll(int(self.timeout * 1000), zmq.POLLIN):
                    return messages.decode_reply(self._socket.recv())
                why = "no_reply"
            log.warning("treasury_no_reply", attempt=attempt, retries=self.retries, endpoint=self.endpoint,
                        why=why, request=getattr(message, "intent_id", type(message).__name__))
            self._close()
        raise TreasuryUnavailable(f"no reply from {self.endpoint} after {self.retries} tries")

    def send_intent(self, intent: messages.TransferIntent):
        return self.request(intent)

    def status(self, intent_id: str):
        return self.request(messages.IntentStatus(intent_id=intent_id))

    def ping(self):
        return self.request(messages.Ping())

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "IntentClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EventSubscriber:
    """The treasury's PUB feed. Events are hints (a slow joiner misses the first ones)."""

    def __init__(self, endpoint: str, keys: KeyPair, server_public: bytes, *,
                 context: zmq.Context | None = None) -> None:
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        configure_client(self._socket, keys, server_public)
        self._socket.setsockopt(zmq.SUBSCRIBE, messages.EVENT_TOPIC)
        self._socket.connect(endpoint)
        self._lock = threading.Lock()

    def receive(self, timeout: float) -> messages.WithdrawalEvent | None:
        """The next event, or None after `timeout` seconds; malformed events are skipped."""
        with self._lock:
            if not self._socket.poll(int(timeout * 1000), zmq.POLLIN):
                return None
            parts = self._socket.recv_multipart()
        if len(parts) != 2 or parts[0] != messages.EVENT_TOPIC:
            log.warning("event_malformed", frames=len(parts))
            return None
        try:
            return messages.decode_event(parts[1])
        except messages.WireError as exc:
            log.warning("event_malformed", detail=exc.detail)
            return None

    def close(self) -> None:
        self._socket.close(linger=0)
