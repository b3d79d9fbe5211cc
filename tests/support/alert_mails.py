"""Alert mails as the tests read them: kind, severity, count and intent ids from each mail."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.support.smtp import ReceivedMail, SmtpSink
from tests.support.waiting import wait_until


@dataclass(frozen=True)
class AlertMail:
    kind: str
    severity: str
    count: int
    intent_ids: tuple[str, ...]
    mail: ReceivedMail

    @property
    def subject(self) -> str:
        return self.mail.subject

    @property
    def body(self) -> str:
        return self.mail.body


INTENT_ID_LINE = re.compile(r"^\s*Intent id:\s+(\S+)\s*$", re.MULTILINE)


def alert_mail(mail: ReceivedMail) -> AlertMail:
    header = mail.header("X-Treasury-Alert") or ""
    fields = dict(part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return AlertMail(fields.get("kind", ""), fields.get("severity", ""), int(fields.get("count", "0")),
                     tuple(INTENT_ID_LINE.findall(mail.body)), mail)


def alert_mails(sink: SmtpSink, kind: str, intent_id: str | None = None) -> list[AlertMail]:
    found = [alert_mail(m) for m in sink.mails]
    return [a for a in found if a.kind == kind and (intent_id is None or intent_id in a.intent_ids)]


def wait_alert(sink: SmtpSink, kind: str, intent_id: str | None = None, timeout: float = 15.0) -> AlertMail:
    """The one mail of this kind (about this intent) once it arrived; fails on a second."""
    wait_until(lambda: alert_mails(sink, kind, intent_id), timeout=timeout,
               what=f"a {kind} mail about {intent_id} (have: {[alert_mail(m).kind for m in sink.mails]})")
    found = alert_mails(sink, kind, intent_id)
    assert len(found) == 1, [a.subject for a in found]
    return found[0]
