"""One pass of the outbox drain: plan the mails, connect once, record, send, mark sent.

The pass never holds a write transaction across network I/O, so it can delay an alert
but never a decision. One pass:

1. read the alerts not yet in a mail (without their facts: cheap even for a flood) and
   plan the mails due now (`digest.plan`);
2. if anything is due (new mails, or mails left `sending` earlier), open ONE SMTP
   connection (10 s timeout); if that fails, record nothing and report `unreachable`,
   so that the sender backs off 1, 2, 4 ... 30 s and the outbox drains within a minute
   of the server's return;
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
import time
from dataclasses import dataclass
from email.utils import make_msgid
from typing import Sequence

from common.clock import Clock
from common.config import SmtpSettings
from common.logs import get_logger
from treasury_bot.alerts import digest, pacing, render, transport
from treasury_bot.alerts.formats import describe_error
from treasury_bot.alerts.model import CRITICAL, INFO, WARNING
from treasury_bot.ledger import Ledger, MailRow

log = get_logger("treasury.alerts")

PLAN_BATCH = 50_000   # alerts (without facts) read per severity per pass for planning
LOG_BATCH = 2_000     # alerts (with facts) logged per pass when there is no SMTP
CLAIM_CHUNK = 500     # alerts put in mails per write transaction (~3 ms of write lock)
CLAIM_PAUSE_S = 0.01  # between such transactions: SQLite's busy handler polls (1, 2, 5 ...
                      # 100 ms), so back-to-back transactions would starve a waiting writer


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


class OutboxDrain:
    """Runs passes over a ledger it is given; keeps, between passes, each refused mail's
    own backoff and the counters. Not thread-safe: one thread drains."""

    def __init__(self, smtp: SmtpSettings | None, clock: Clock, window_ms: int, *,
                 batch_size: int = PLAN_BATCH, backoff_start_s: float = pacing.BACKOFF_START_S,
                 backoff_max_s: float = pacing.BACKOFF_MAX_S,
                 smtp_timeout_s: float = transport.SMTP_TIMEOUT_S) -> None:
        self._smtp = smtp
        self._clock = clock
        self._window_ms = window_ms
        self.shadow = False   # issue 13 item 7: the policy in force is in shadow mode
        self._batch = batch_size
        self._backoff_start = backoff_start_s
        self._backoff_max = backoff_max_s
        self._timeout = smtp_timeout_s
        self._retry_at: dict[int, float] = {}   # mail_id -> monotonic time of its next try
        self._attempts: dict[int, int] = {}     # mail_id -> refusals seen by this process
        self.stats = SenderStats()
        self._checked_waiting_mails = False

    def drain_once(self, ledger: Ledger) -> DrainResult:
        """One pass: plan, connect once if anything is due, record, send, mark."""
        try:
            result = self._drain(ledger)
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

    def _drain(self, ledger: Ledger) -> DrainResult:
        if self._smtp is None:
            return self._log_pass(ledger)
        now = self._clock.now_ms()
        monotonic = self._clock.monotonic()
        retry = pacing.due_for_retry(ledger.outbox.sending_mails(), self._retry_at, monotonic)
        batch = ledger.outbox.pending(self._batch)
        keys = {(i.kind, i.severity) for i in batch if i.severity != CRITICAL}
        plan = digest.plan(batch, ledger.outbox.last_mail_times(keys), self._window_ms, now)
        # A full batch with progress made: more may be waiting, go again at once. A full
        # batch held whole (a window still open) waits for the poll instead of spinning.
        more = bool(plan.mails) and pacing.batch_full((i.severity for i in batch), self._batch)
        if not retry and not plan.mails:
            return DrainResult(held=plan.held)
        try:
            client = transport.connect(self._smtp, self._timeout)
        except transport.SMTP_ERRORS as exc:
            self.stats.last_error = describe_error(exc)
            log.warning("alert_smtp_unreachable", error=describe_error(exc),
                        host=self._smtp.host, port=self._smtp.port,
                        waiting_mails=len(retry) + len(plan.mails))
            return DrainResult(held=plan.held, waiting=len(retry) + len(plan.mails), unreachable=True)
        try:
            new = self._record(ledger, plan.mails, now)
            queue = pacing.send_order(retry + new)
            return self._send_all(ledger, client, queue, plan.held, more)
        finally:
            transport.close_quietly(client)

    def _record(self, ledger: Ledger, mails: Sequence[digest.PlannedMail], now: int) -> list[MailRow]:
        """Record the planned mails as `sending` and claim their alerts, in write
        transactions of at most CLAIM_CHUNK alerts each with a pause between them: a
        digest of 50,000 alerts holds the ledger's write lock a few milliseconds at a
        time, never for seconds, and never shuts a waiting writer out."""
        assert self._smtp is not None
        domain = transport.message_id_domain(self._smtp.sender)
        mail_ids: list[int] = []
        for index, group in enumerate(pacing.claim_groups(mails, CLAIM_CHUNK)):
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
                                 window_ms=self._window_ms, shadow=self.shadow)
            subject = str(msg["Subject"])
            try:
                refused_rcpts = transport.deliver(client, self._smtp, msg)
            except transport.MESSAGE_REFUSED as exc:
                refused += 1
                self._note_failure(ledger, mail, exc, subject)
                continue
            except transport.SMTP_ERRORS as exc:
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
        delay = pacing.retry_delay(attempts, self._backoff_start, self._backoff_max)
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
            _log_alert(item.alert, self.shadow)
        with ledger.transaction():
            ledger.outbox.mark_logged([item.seq for item in batch], self._clock.now_ms())
        more = pacing.batch_full((i.alert.severity for i in batch), min(self._batch, LOG_BATCH))
        return DrainResult(sent=len(batch), more=more)


def _log_alert(alert, shadow: bool = False) -> None:
    fields = render.log_fields(alert)
    if shadow:
        fields["mode"] = "SHADOW"   # issue 13 item 7: a logged alert says so too
    if alert.severity == CRITICAL:
        log.critical("alert", **fields)
    elif alert.severity == WARNING:
        log.warning("alert", **fields)
    else:
        assert alert.severity == INFO
        log.info("alert", **fields)
