"""The HTTP webhook feed: `POST /signal`, TradingView-alert style JSON, authenticated.

Authentication (either): an `X-Signature` header holding the hex HMAC-SHA256 of the raw
body under SIGNAL_WEBHOOK_SECRET, or a `passphrase` field equal to the secret. Both are
compared in constant time; the passphrase is removed before the signal is parsed or
logged. Answers (JSON): 202 {"accepted": true, "id"}; 400 bad JSON; 401 bad secret;
404/405 wrong path/method; 411 no Content-Length; 413 body over 64 KiB (judged from
Content-Length, before reading); 422 bad field (named); 503 queue full. Only a 202
changes anything: the signal is put on a bounded queue without ever blocking.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from common.logs import get_logger
from signal_bot.signals import PASSPHRASE_FIELD, Signal, SignalError, decode_json_object, parse_signal

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


def judge(body: bytes, signature: str | None, secret: str) -> Signal | Answer:
    """Authenticate and parse one body (pure): the Signal, or the error answer to send."""
    if signature is not None:
        expected = signature_of(secret, body)
        if not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return _error(401, "unauthorized", "bad X-Signature")
    try:
        fields = decode_json_object(body)
    except SignalError as exc:
        return _error(400, "bad_json", exc.detail)
    passphrase = fields.pop(PASSPHRASE_FIELD, None)
    if signature is None:
        if not isinstance(passphrase, str) or not hmac.compare_digest(passphrase.encode(), secret.encode()):
            return _error(401, "unauthorized", "missing or bad passphrase")
    try:
        return parse_signal(fields)
    except SignalError as exc:
        return _error(422, "invalid_signal", exc.detail, field=exc.field)


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
        verdict = judge(body, self.headers.get(SIGNATURE_HEADER), self.server.secret)
        if isinstance(verdict, Answer):
            log.info("webhook_refused", status=verdict.status, error=verdict.body["error"],
                     field=verdict.body.get("field"), detail=verdict.body["detail"])
            return self._send(verdict)
        try:
            outcome = self.server.submit(verdict)
        except Exception:  # noqa: BLE001 - e.g. the disk: nothing was accepted, say so
            log.error("webhook_submit_failed", id=verdict.id, exc_info=True)
            return self._send(_error(503, "unavailable", "the signal could not be recorded; retry later"))
        if outcome is True or outcome == ACCEPTED:
            self._send(Answer(202, {"accepted": True, "id": verdict.id}))
            return self._after_accept()
        if outcome == DUPLICATE:
            return self._send(Answer(202, {"accepted": True, "id": verdict.id, "duplicate": True}))
        log.warning("webhook_queue_full", id=verdict.id)
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

    def __init__(self, host: str, port: int, secret: str, submit: Callable[[Signal], "str | bool"], *,
                 after_accept: Callable[[], None] | None = None) -> None:
        self.secret = secret
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
    def submit(signal: Signal) -> str:
        try:
            signals.put_nowait(signal)
            return ACCEPTED
        except queue.Full:
            return QUEUE_FULL
    return submit
