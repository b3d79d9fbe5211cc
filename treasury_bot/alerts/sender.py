"""The background sender: drains the ledger's alert outbox over SMTP.

It runs in a daemon thread with its own `Ledger` (its own connection), and never holds a write
transaction across network I/O, so it can delay an alert but never a decision. One
drain pass:

1. read the alerts not yet in a mail (without their facts: cheap even for a flood) and
   plan the mails due now (`digest.plan`);
2. if anything is due (new mails, or mails left `sending` earlier), open ONE SMTP
   connection (10 s timeout); if that fails, record nothing and back off 1, 2, 4 ... 30 s,
   so the outbox drains within a minute of the server's return;
3. record the new mails as `sending` and link their alerts (short commits of at most
   CLAIM_CHUNK alerts, with a pause between them for the treasury's writers);
4. render each mail from SQL aggregates (a 50,000-alert digest is never loaded whole)
   and send it, CRITICAL first; only once the server accepted it (`send_message`
   returned; all recipients refused is a failure) mark the mail sent, which makes every
   alert in it sent, in one single-row commit. A mail the server refuses stays
   `sending` and is retried with its own backoff, without holding up the others.

Exactly once, and the one place it is at least once: an alert is marked sent only after
the server accepted its mail, so a server that is down loses nothing. If the process
dies after the server accepted a mail but before the mark is committed, the mail is
still `sending` at the next start and is sent again, with the same Message-ID and Date.
We choose this over the alternative (mark first, then send) because that one silently
loses the alert when the crash falls between the two; a duplicate that mail clients
can recognise by its Message-ID is the lesser harm for a custody alert.

Without SMTP settings (SMTP_HOST unset) each alert is written as one structured log line
and marked sent with channel `log`.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Sequence

from common.clock import Clock, SystemClock
from common.config import SmtpSettings
from common.logs import get_logger, scrub
from treasury_bot.alerts import digest, events, render
from treasury_bot.alerts.model import CRITICAL, INFO, WARNING
from treasury_bot.ledger import Ledger, MailRow
from treasury_bot.supervised import Supervised

log = get_logger("treasury.alerts")

SMTP_TIMEOUT_S = 10.0
PLAN_BATCH = 50_000   # alerts (without facts) read per severity per pass for planning
LOG_BATCH = 2_000     # alerts (with facts) logged per pass when there is no SMTP
CLAIM_CHUNK = 500     # alerts put in mails per write transaction (~3 ms of write lock)
CLAIM_PAUSE_S = 0.01  # between such transactions: SQLite's busy handler polls (1, 2, 5 ...
                      # 100 ms), so back-to-back transactions would starve a waiting writer
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0

# The server answered "no" to this one message; the connection is still good.
_MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


@dataclass(frozen=True)
class DrainResult:
    """What one pass did."""

    sent: int = 0               # mails accepted by the server (or alerts logged, without SMTP)
    refused: int = 0            # mails the server refused (they stay `sending`, retried later)
    held: int = 0               # alerts held for a digest whose window is still open
    waiting: int = 0            # mails not sent because the server could not be reached
    unreachable: bool = False   # the connection failed: the caller backs off
    more: bool = False          # the batch was full: run again at once


@dataclass
class SenderStats:
    """Counters since start, for `treasuryctl status` and tests (read from any thread)."""

    passes: int = 0
    unreachable_passes: int = 0
    mails_sent: int = 0
    mails_refused: int = 0
    alerts_logged: int = 0
    last_error: str | None = None


def describe_error(exc: BaseException) -> str:
    """An exception as one short line for logs, the ledger and the CLI (secrets scrubbed)."""
    return scrub(render.one_line(f"{type(exc).__name__}: {exc}", 300))


def message_id_domain(sender: str) -> str:
    """Message-IDs use the sender's own domain: stable for a deployment, and never a
    lookup of this host's name."""
    _, at, domain = sender.rpartition("@")
    domain = domain.strip().strip(">")
    return domain if at and domain else "treasury-bot.invalid"


def connect(settings: SmtpSettings, timeout: float = SMTP_TIMEOUT_S) -> smtplib.SMTP:
    """One logged-in SMTP connection, as SMTP_SECURITY says. `starttls` never falls back
    to plain text: a server that does not offer STARTTLS is an error."""
    helo_name = socket.gethostname() or "treasury-bot"  # getfqdn() may block on DNS
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=helo_name,
                                                timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, local_hostname=helo_name, timeout=timeout)
    try:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password or "")
    except BaseException:
        close_quietly(client)
        raise
    return client


def close_quietly(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()


def deliver(client: smtplib.SMTP, settings: SmtpSettings, msg: EmailMessage) -> dict:
    """Send one mail; return the recipients the server refused (all refused raises)."""
    return client.send_message(msg, from_addr=settings.sender, to_addrs=list(settings.recipients))


class AlertSender:
    """Drains the outbox in a background thread: `start()`, then `stop()` at shutdown.

    `wake()` (cheap, thread-safe) asks for a pass now instead of at the next poll; the
    treasury may call it after committing an alert. `drain_once()` runs one pass on the
    caller's thread, for tests with a fake clock and for tools; do not mix it with a
    started thread.
    """

    def __init__(self, ledger_path: Path | str, smtp: SmtpSettings | None, clock: Clock | None = None,
                 window_s: float = 60.0, poll_s: float = 0.5, *, batch_size: int = PLAN_BATCH,
                 backoff_start_s: float = BACKOFF_START_S, backoff_max_s: float = BACKOFF_MAX_S,
                 smtp_timeout_s: float = SMTP_TIMEOUT_S) -> None:
        if window_s <= 0 or poll_s <= 0 or batch_size <= 0:
            raise ValueError("window_s, poll_s and batch_size must be positive")
        self._path = Path(ledger_path)
        self._smtp = smtp
        self._clock = clock or SystemClock()
        self._window_ms = max(1, int(round(window_s * 1000)))
        self._poll_s = poll_s
        self._batch = batch_size
        self._backoff_start = backoff_start_s
        self._backoff_max = backoff_max_s
        self._timeout = smtp_timeout_s
        self._ledger: Ledger | None = None
        # Issue 10 defect 8: one thread_failing alert per episode of exceptions (SMTP being
        # unreachable is not one: it has its own backoff and the mails wait in the outbox).
        self._guard = Supervised("alert-sender", self._record_thread_alert)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._retry_at: dict[int, float] = {}   # mail_id -> monotonic time of its next try
        self._attempts: dict[int, int] = {}     # mail_id -> refusals seen by this process
        self.stats = SenderStats()
        self._checked_waiting_mails = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("AlertSender already started")
        if self._smtp is None:
            log.warning("alerts_log_only", detail="SMTP_HOST is not set: alerts are only logged")
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to finish its current step and wait; True once it has ended."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            self._close()
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        backoff = 0.0
        try:
            while not self._stop.is_set():
                try:
                    result = self.drain_once()
                    failed = result.unreachable
                except Exception as exc:  # a locked or broken ledger: log, back off, go on
                    log.error("alert_sender_error", exc_info=True, error=describe_error(exc))
                    self._guard.failed(exc)
                    result, failed = DrainResult(), True
                else:
                    self._guard.succeeded()
                if failed:
                    backoff = self._backoff_start if backoff == 0 else min(backoff * 2, self._backoff_max)
                    log.warning("alert_sender_backoff", retry_in_s=backoff)
                    self._stop.wait(backoff)  # wake() must not defeat the backoff
                    continue
                backoff = 0.0
                if not result.more:
                    self._wake.wait(self._poll_s)
                    self._wake.clear()
        finally:
            self._close()

    def _record_thread_alert(self, what: str, thread: str, error_type: str | None, failures: int) -> None:
        ledger = self._db()
        now = self._clock.now_ms()
        alert = (events.thread_failing(at_ms=now, thread=thread, error_type=error_type or "?", failures=failures)
                 if what == "failing" else events.thread_recovered(at_ms=now, thread=thread, failures=failures))
        with ledger.transaction():
            ledger.enqueue(alert)

    def _db(self) -> Ledger:
        """The sender's own Ledger, opened on first use in the thread that drains."""
        if self._ledger is None:
            self._ledger = Ledger(self._path)
        return self._ledger

    def _close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    # -- one pass ------------------------------------------------------------------------

    def drain_once(self) -> DrainResult:
        """One pass: plan, connect once if anything is due, record, send, mark."""
        try:
            result = self._drain()
        except Exception as exc:
            self.stats.last_error = describe_error(exc)
            raise
        stats = self.stats
        stats.passes += 1
        stats.unreachable_passes += result.unreachable
        stats.mails_refused += result.refused
        if self._smtp is None:
            stats.alerts_logged += result.sent
        else:
            stats.mails_sent += result.sent
        return result

    def _drain(self) -> DrainResult:
        ledger = self._db()
        if self._smtp is None:
            return self._log_pass(ledger)
        now = self._clock.now_ms()
        monotonic = self._clock.monotonic()
        retry = [m for m in ledger.outbox.sending_mails() if self._retry_at.get(m.mail_id, 0.0) <= monotonic]
        batch = ledger.outbox.pending(self._batch)
        keys = {(i.kind, i.severity) for i in batch if i.severity != CRITICAL}
        plan = digest.plan(batch, ledger.outbox.last_mail_times(keys), self._window_ms, now)
        # A full batch with progress made: more may be waiting, go again at once. A full
        # batch held whole (a window still open) waits for the poll instead of spinning.
        more = bool(plan.mails) and any(
            n >= self._batch for n in Counter(i.severity for i in batch).values())
        if not retry and not plan.mails:
            return DrainResult(held=plan.held)
        try:
            client = connect(self._smtp, self._timeout)
        except (OSError, smtplib.SMTPException) as exc:
            self.stats.last_error = describe_error(exc)
            log.warning("alert_smtp_unreachable", error=describe_error(exc),
                        host=self._smtp.host, port=self._smtp.port,
                        waiting_mails=len(retry) + len(plan.mails))
            return DrainResult(held=plan.held, waiting=len(retry) + len(plan.mails), unreachable=True)
        try:
            new = self._record(ledger, plan.mails, now)
            queue = sorted(retry + new, key=lambda m: (m.severity != CRITICAL, m.mail_id))
            return self._send_all(ledger, client, queue, plan.held, more)
        finally:
            close_quietly(client)

    def _record(self, ledger: Ledger, mails: Sequence[digest.PlannedMail], now: int) -> list[MailRow]:
        """Record the planned mails as `sending` and claim their alerts, in write
        transactions of at most CLAIM_CHUNK alerts each with a pause between them: a
        digest of 50,000 alerts holds the ledger's write lock a few milliseconds at a
        time, never for seconds, and never shuts a waiting writer out."""
        assert self._smtp is not None
        domain = message_id_domain(self._smtp.sender)
        mail_ids: list[int] = []
        for index, group in enumerate(claim_groups(mails, CLAIM_CHUNK)):
            if index:
                time.sleep(CLAIM_PAUSE_S)  # let the treasury's writers in
            with ledger.transaction():
                for mail, start, part in group:
                    if start == 0:
                        mail_ids.append(ledger.outbox.create_mail(
                            kind=mail.kind, severity=mail.severity, seqs=part,
                            message_id=make_msgid("alert", domain=domain),
                            recipients=self._smtp.recipients, now_ms=now))
                    else:
                        ledger.outbox.claim_more(mail_ids[-1], part)
        return [ledger.outbox.get_mail(mail_id) for mail_id in mail_ids]

    def _send_all(self, ledger: Ledger, client: smtplib.SMTP,
                  queue: Sequence[MailRow], held: int, more: bool) -> DrainResult:
        assert self._smtp is not None
        sent = refused = 0
        for index, mail in enumerate(queue):
            content = ledger.outbox.mail_content(mail.mail_id, render.DIGEST_LIST_LIMIT)
            msg = render.message(content, mail_from=self._smtp.sender, mail_to=self._smtp.recipients,
                                 message_id=mail.message_id, date_ms=mail.created_at_ms,
                                 window_ms=self._window_ms)
            subject = str(msg["Subject"])
            try:
                refused_rcpts = deliver(client, self._smtp, msg)
            except _MESSAGE_REFUSED as exc:
                refused += 1
                self._note_failure(ledger, mail, exc, subject)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                self._note_failure(ledger, mail, exc, subject)
                return DrainResult(sent, refused, held, waiting=len(queue) - index, unreachable=True)
            self._mark_sent(ledger, mail.mail_id, subject)
            self._retry_at.pop(mail.mail_id, None)
            self._attempts.pop(mail.mail_id, None)
            sent += 1
            log.info("alert_mail_sent", mail_id=mail.mail_id, kind=mail.kind, severity=mail.severity,
                     alerts=content.count, message_id=mail.message_id,
                     refused=",".join(sorted(refused_rcpts)) or None)
        return DrainResult(sent, refused, held, more=more)

    def _mark_sent(self, ledger: Ledger, mail_id: int, subject: str) -> None:
        with ledger.transaction():
            ledger.outbox.mark_mail_sent(mail_id, self._clock.now_ms(), subject)

    def _note_failure(self, ledger: Ledger, mail: MailRow, exc: BaseException,
                      subject: str) -> None:
        error = describe_error(exc)
        self.stats.last_error = error
        attempts = self._attempts.get(mail.mail_id, 0) + 1
        self._attempts[mail.mail_id] = attempts
        delay = min(self._backoff_max, self._backoff_start * 2 ** (attempts - 1))
        self._retry_at[mail.mail_id] = self._clock.monotonic() + delay
        with ledger.transaction():
            ledger.outbox.note_mail_failure(mail.mail_id, error, subject)
        log.warning("alert_mail_not_sent", mail_id=mail.mail_id, kind=mail.kind,
                    severity=mail.severity, error=error, retry_in_s=delay)

    def _log_pass(self, ledger: Ledger) -> DrainResult:
        if not self._checked_waiting_mails:
            self._checked_waiting_mails = True
            waiting = ledger.outbox.sending_mails()
            if waiting:  # recorded under an earlier SMTP configuration: kept for SMTP's return
                log.warning("alert_mails_waiting_for_smtp", mails=len(waiting),
                            alerts=sum(m.alert_count for m in waiting))
        batch = ledger.outbox.unsent(min(self._batch, LOG_BATCH))
        if not batch:
            return DrainResult()
        for item in batch:
            _log_alert(item.alert)
        with ledger.transaction():
            ledger.outbox.mark_logged([item.seq for item in batch], self._clock.now_ms())
        more = any(n >= min(self._batch, LOG_BATCH) for n in Counter(i.alert.severity for i in batch).values())
        return DrainResult(sent=len(batch), more=more)


def claim_groups(mails: Sequence[digest.PlannedMail], chunk: int) -> list[list[tuple[digest.PlannedMail, int, Sequence[int]]]]:
    """The planned mails cut into (mail, start, seqs) parts of at most `chunk` alerts, and
    the parts grouped into write transactions of at most `chunk` alerts each (a part
    that would overflow the open group starts the next one)."""
    groups: list[list[tuple[digest.PlannedMail, int, Sequence[int]]]] = [[]]
    in_group = 0
    for mail in mails:
        for start in range(0, len(mail.seqs), chunk):
            part = mail.seqs[start:start + chunk]
            if in_group and in_group + len(part) > chunk:
                groups.append([])
                in_group = 0
            groups[-1].append((mail, start, part))
            in_group += len(part)
    return [group for group in groups if group]


def _log_alert(alert) -> None:
    fields = render.log_fields(alert)
    if alert.severity == CRITICAL:
        log.critical("alert", **fields)
    elif alert.severity == WARNING:
        log.warning("alert", **fields)
    else:
        assert alert.severity == INFO
        log.info("alert", **fields)


def send_test_mail(smtp: SmtpSettings | None, clock: Clock | None = None,
                   timeout: float = SMTP_TIMEOUT_S) -> tuple[bool, str]:
    """`treasuryctl alerts test`: send one test mail now, outside the outbox.
    Returns (accepted by the server, a line for the operator)."""
    if smtp is None:
        return False, "SMTP_HOST is not set: alerts are only written to the log"
    now = (clock or SystemClock()).now_ms()
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    alert = events.mail_test(at_ms=now, detail=f"sent by treasuryctl alerts test through {where}")
    msg = render.message([alert], mail_from=smtp.sender, mail_to=smtp.recipients,
                         message_id=make_msgid("alert-test", domain=message_id_domain(smtp.sender)),
                         date_ms=now)
    try:
        client = connect(smtp, timeout)
        try:
            refused = deliver(client, smtp, msg)
        finally:
            close_quietly(client)
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"not accepted by {where}: {describe_error(exc)}"
    accepted = [r for r in smtp.recipients if r not in refused]
    detail = f"accepted by {where} for {', '.join(accepted)} (Message-ID {msg['Message-ID']})"
    if refused:
        detail += f"; refused for {', '.join(sorted(refused))}"
    return True, scrub(detail)
