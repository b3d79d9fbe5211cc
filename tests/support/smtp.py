"""A real SMTP server (aiosmtpd) on loopback that keeps every mail it receives.

    sink = SmtpSink().start()          # a free port, chosen once
    ...                                # point SMTP_HOST/SMTP_PORT at sink.host/sink.port
    mails = sink.wait_for(3)           # wait on a condition, never sleep
    sink.stop(); sink.start()          # restartable on the same port (server outage)
    sink.stop()

Options: `credentials={"user": "password"}` requires AUTH (allowed without TLS: loopback
only); `refuse_recipients` answers 550 to those RCPT TO addresses; `on_data(mail)` runs
in the server's thread for each mail before the reply and may return an SMTP reply
string (e.g. "554 5.6.0 refused") to refuse it. Received mails are kept in a list under
a lock, across restarts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage = field(repr=False)
    login: str | None  # the AUTH login used, if any

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # folded right after "Subject:" it keeps a space

    @property
    def body(self) -> str:
        return self.message.get_content().replace("\r\n", "\n")  # CRLF on the wire

    def header(self, name: str) -> str | None:
        value = self.message[name]
        return None if value is None else str(value).strip()  # a folded header keeps a leading space


class _Handler:
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refuse_recipients:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        message = BytesParser(policy=policy.default).parsebytes(raw)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), raw, message, login)
        hook = self.sink.on_data
        reply = hook(mail) if hook is not None else None
        if reply:
            return reply
        with self.sink._lock:
            self.sink._mails.append(mail)
        return "250 OK queued"


class SmtpSink:
    """Start/stop/restart a collecting SMTP server on one fixed loopback port."""

    def __init__(self, port: int | None = None, *, host: str = "127.0.0.1",
                 credentials: dict[str, str] | None = None,
                 refuse_recipients: set[str] | None = None,
                 on_data: Callable[[ReceivedMail], str | None] | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.credentials = dict(credentials or {})
        self.refuse_recipients = set(refuse_recipients or ())
        self.on_data = on_data
        self._lock = threading.Lock()
        self._mails: list[ReceivedMail] = []
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self.credentials.get(login) == auth_data.password.decode():
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def start(self) -> "SmtpSink":
        if self._controller is not None:
            return self
        kwargs = {}
        if self.credentials:
            kwargs = dict(authenticator=self._authenticate, auth_required=True, auth_require_tls=False)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                ready_timeout=10.0, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> "SmtpSink":
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    def clear(self) -> None:
        with self._lock:
            self._mails.clear()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[ReceivedMail]:
        """Wait until at least `count` mails arrived; return all of them."""
        wait_until(lambda: len(self.mails) >= count, timeout=timeout,
                   what=f"{count} mail(s) at the SMTP sink (have {len(self.mails)})")
        return self.mails

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
