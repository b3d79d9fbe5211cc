"""The HTTP webhook feed: `POST /signal`, TradingView-alert style JSON, authenticated.

Authentication (either): an `X-Signature` header holding the hex HMAC-SHA256 of the raw
body under SIGNAL_WEBHOOK_SECRET, or a `passphrase` field equal to the secret. Both are
compared in constant time; the passphrase is removed before the signal is parsed or
logged. Answers (JSON): 202 {"accepted": true, "id"}; 400 bad JSON; 401 bad secret;
403 a caller outside `[access] allow` (judged before the body is read; X-Forwarded-For
only from `trusted_proxies`: signal_bot/access.py); 404/405 wrong path/method; 411 no
Content-Length; 413 body over 64 KiB (judged from Content-Length, before reading); 422 bad
field (named); 503 queue full. Only a 202 changes anything: the signal is put on a
bounded queue without ever blocking.

The body's shape is the `[feed]` profile's (signal_bot/feeds.py; text/plain one-line
commands in every profile). The 202 says the id and, when it differs, the exchange's
`client_order_id` derived from it; a signal sent without an id is answered with
`"id_from": "body_hash"` and its dedupe window (signal_bot/signal_ids.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from common.logs import get_logger
from signal_bot import feeds, signal_ids
from signal_bot.access import AccessRules
from signal_bot.signals import Signal, SignalError

log = get_logger("signal.webhook")

MAX_BODY_BYTES = 64 * 1024
SIGNAL_PATH = "/signal"
SIGNATURE_HEADER = "X-Signature"

# What `submit` answers. A plain bool is read as True = ACCEPTED, False = QUEUE_FULL.
ACCEPTED, DUPLICATE, QUEUE_FULL = "accepted", "duplicate", "queue_full"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _error(status: int, code: str, detail: str, **extra: Any) -> Answer:
    return Answer(status, {"error": code, "detail": detail, **extra})


def signature_of(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Dedupe:
    """A signal named by its body's hash: the same body's id in the window before, and the
    moment after which a row of that id is still a repeat (now - the window)."""

    previous_id: str
    since_ms: int
    window_seconds: int


@dataclass(frozen=True)
class Judged:
    signal: Signal
    dedupe: Dedupe | None = None


def judge_body(body: bytes, signature: str | None, secret: str, profile: feeds.Profile = feeds.NATIVE,
               now_ms: int | None = None, *, check_secret: bool = True) -> Judged | Answer:
    """Authenticate and read one body by its profile (pure): the judged signal, or the answer to send."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if signature is not None and check_secret:
        expected = signature_of(secret, body)
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return _error(401, "unauthorized", "bad X-Signature")
    try:
        read = feeds.read_body(body, profile)
    except SignalError as exc:
        if exc.field is None:
            return _error(400, "bad_json", exc.detail)
        return _error(422, "invalid_signal", exc.detail, field=exc.field)
    if signature is None and check_secret:
        passphrase = read.passphrase
        if not isinstance(passphrase, str) or not hmac.compare_digest(passphrase.encode(), secret.encode()):
            return _error(401, "unauthorized", "missing or bad passphrase")
    window = signal_ids.window_of(now_ms, profile.dedupe_window_seconds)
    hashed: list[dict] = []

    def id_for(fields: dict) -> str:
        hashed.append(dict(fields))
        return signal_ids.body_id(fields, window)
    try:
        signal = feeds.to_signal(read, profile, now_ms, id_for)
    except SignalError as exc:
        return _error(422, "invalid_signal", exc.detail, field=exc.field)
    if not hashed:
        return Judged(signal)
    previous = signal_ids.body_id(hashed[0], window - 1)
    return Judged(signal, Dedupe(previous, now_ms - profile.dedupe_window_seconds * 1000,
                                 profile.dedupe_window_seconds))


def judge(body: bytes, signature: str | None, secret: str, profile: feeds.Profile = feeds.NATIVE,
          now_ms: int | None = None) -> Signal | Answer:
    """Authenticate and parse one body (pure): the Signal, or the error answer to send."""
    verdict = judge_body(body, signature, secret, profile, now_ms)
    return verdict.signal if isinstance(verdict, Judged) else verdict


def accepted_body(judged: Judged, *, duplicate: bool = False) -> dict[str, Any]:
    """The 202's JSON: the id, the exchange's id when it differs, how an id was made."""
    signal = judged.signal
    body: dict[str, Any] = {"accepted": True, "id": signal.id}
    if signal.client_order_id != signal.id:
        body["client_order_id"] = signal.client_order_id
    if judged.dedupe is not None:
        body["id_from"] = "body_hash"
        body["dedupe_window_seconds"] = judged.dedupe.window_seconds
    if duplicate:
        body["duplicate"] = True
    return body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive
    disable_nagle_algorithm = True      # one small reply: no 40 ms Nagle/delayed-ACK stall
    timeout = 120                       # idle keep-alive connections are closed after this
    server: "WebhookServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass  # our own structured lines only

    def _send(self, answer: Answer, *, close: bool = False) -> None:
        payload = json.dumps(answer.body, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {answer.status} {self.responses.get(answer.status, ('',))[0]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                + ("Connection: close\r\n" if close else "") + "\r\n").encode("latin-1")
        self.wfile.write(head + payload)  # one write: one segment
        if close:
            self.close_connection = True
        self.server.count(answer.status)

    def _refuse_early(self, answer: Answer) -> None:
        """Answer without reading the body, then close: the unread body would poison keep-alive."""
        log.info("webhook_refused", status=answer.status, error=answer.body["error"], path=self.path[:100])
        self._send(answer, close=True)

    def do_POST(self) -> None:  # noqa: N802 - stdlib's name
        if self.path.split("?", 1)[0] != SIGNAL_PATH:
            return self._refuse_early(_error(404, "not_found", "POST /signal is the only endpoint"))
        access = self.server.access
        if access.allow:
            caller = access.caller(self.client_address[0], self.headers.get("X-Forwarded-For"))
            if not access.allows(caller):
                log.warning("webhook_forbidden", caller=caller[:64], peer=self.client_address[0])
                return self._refuse_early(_error(403, "forbidden", "this address may not call the webhook"))
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            return self._refuse_early(_error(411, "length_required", "Content-Length is required"))
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            return self._refuse_early(_error(400, "bad_request", "Content-Length is not a number"))
        if length > MAX_BODY_BYTES:
            return self._refuse_early(_error(413, "too_large", f"body over {MAX_BODY_BYTES} bytes"))
        body = self.rfile.read(length)
        judged = judge_body(body, self.headers.get(SIGNATURE_HEADER), self.server.secret, self.server.profile)
        if isinstance(judged, Answer):
            log.info("webhook_refused", status=judged.status, error=judged.body["error"],
                     field=judged.body.get("field"), detail=judged.body["detail"])
            return self._send(judged)
        verdict = judged.signal
        try:
            outcome = (self.server.submit(verdict) if judged.dedupe is None
                       else self.server.submit(verdict, judged.dedupe))
        except Exception:  # noqa: BLE001 - e.g. the disk: nothing was accepted, say so
            log.error("webhook_submit_failed", id=verdict.client_order_id, exc_info=True)
            return self._send(_error(503, "unavailable", "the signal could not be recorded; retry later"))
        if outcome is True or outcome == ACCEPTED:
            # This thread trades after the 202 (`after_accept`), possibly for seconds when the
            # exchange is slow: the 202 closes the connection, so a keep-alive client's (or a
            # proxy's) next request gets a fresh thread and its answer within TradingView's 3 s.
            self._send(Answer(202, accepted_body(judged)), close=self.server.after_accept is not None)
            return self._after_accept()
        if outcome == DUPLICATE:
            return self._send(Answer(202, accepted_body(judged, duplicate=True)))
        log.warning("webhook_queue_full", id=verdict.client_order_id)
        self._send(_error(503, "queue_full", "the bot is busy; retry later"))

    def _after_accept(self) -> None:
        """The 202 is out; now the server's `after_accept` (in the bot: trade it on this thread)."""
        if self.server.after_accept is not None:
            try:
                self.server.after_accept()
            except Exception:  # noqa: BLE001 - the signal is journaled; the order worker retries
                log.error("after_accept_failed", exc_info=True)

    def _method_not_allowed(self) -> None:
        if self.path.split("?", 1)[0] != SIGNAL_PATH:
            return self._refuse_early(_error(404, "not_found", "POST /signal is the only endpoint"))
        self._refuse_early(_error(405, "method_not_allowed", "use POST"))

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _method_not_allowed  # noqa: N815


class WebhookServer(ThreadingHTTPServer):
    """Threaded HTTP server that hands valid signals to `submit`, which must not wait for room:
    it answers ACCEPTED, DUPLICATE or QUEUE_FULL (or a bool, see ACCEPTED). After an ACCEPTED
    signal's 202 is written, the same thread calls `after_accept` (if given)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str, port: int, secret: str, submit: Callable[..., "str | bool"], *,
                 after_accept: Callable[[], None] | None = None, profile: feeds.Profile = feeds.NATIVE,
                 access: AccessRules = AccessRules()) -> None:
        self.secret = secret
        self.profile = profile
        self.access = access
        self.submit = submit
        self.after_accept = after_accept
        self._counts: dict[int, int] = {}
        self._counts_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._bound = False
        # Building binds nothing: BaseServer only records the address; `start` opens the
        # socket, binds and listens (what TCPServer.__init__ would have done here).
        socketserver.BaseServer.__init__(self, (host, port), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def count(self, status: int) -> None:
        with self._counts_lock:
            self._counts[status] = self._counts.get(status, 0) + 1

    def counts(self) -> dict[int, int]:
        with self._counts_lock:
            return dict(self._counts)

    def start(self) -> "WebhookServer":
        """Bind, listen and serve on a thread; raises OSError when the address cannot be bound."""
        self.socket = socket.socket(self.address_family, self.socket_type)
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.socket.close()
            raise
        self._bound = True
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        if self._bound:
            self.server_close()


def queue_submitter(signals: "queue.Queue[Signal]") -> Callable[[Signal], str]:
    """A `submit` with no journal (tests): ACCEPTED, or QUEUE_FULL when the bounded queue is full."""
    def submit(signal: Signal, dedupe: "Dedupe | None" = None) -> str:
        try:
            signals.put_nowait(signal)
            return ACCEPTED
        except queue.Full:
            return QUEUE_FULL
    return submit
