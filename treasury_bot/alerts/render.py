"""Alerts into mails a person wants to read: subject, body and the whole message; no I/O.

A mail holds one alert, or a digest of alerts of one kind and severity. The subject says
what happened and how bad (`[treasury][CRITICAL] withdrawal failed: 250 USDT to
cold-wallet (-4026 insufficient balance)`); the plain-text body gives the facts (intent
id, client, destination, shortened address, amounts, exchange ids, tx id, UTC times, the
status) and the exact `treasuryctl` commands the operator can run.

Nothing secret is ever in an alert's facts (API keys arrive masked, see `events.py`);
as a last defence every subject and body is passed through `common.logs.scrub`, which
blanks any registered secret (API key and secret, SMTP password, webhook secret).
Text that came from a client (its free-text `reason`) is shown on one line, labelled as
the client's, so that it cannot pass for the treasury's own words or commands.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from email.message import EmailMessage
from email.utils import formatdate
from typing import Mapping, Sequence, Union

from common.logs import scrub
from treasury_bot import lifecycle
from treasury_bot.alerts import model, wording
from treasury_bot.alerts.formats import amount, iso_utc, one_line, short_address
from treasury_bot.alerts.model import BREAKDOWN_FACTS, BREAKDOWN_TOP, Alert, FactValue, MailContent

SUBJECT_PREFIX = "[treasury]"
SHADOW_PREFIX = "[SHADOW]"  # issue 13 item 7: every mail of a treasury in shadow mode says so
DIGEST_LIST_LIMIT = 50

Mail = Union[MailContent, Sequence[Alert]]


def content_of(alerts: Sequence[Alert]) -> MailContent:
    """What a mail holding these alerts (in outbox order) says; `Outbox.mail_content`
    computes the same from the ledger without loading a big digest whole."""
    if not alerts:
        raise ValueError("a mail holds at least one alert")
    first = alerts[0]
    breakdowns: dict[str, tuple[tuple[str, int], ...]] = {}
    distinct: dict[str, int] = {}
    if len(alerts) > 1:
        for fact in BREAKDOWN_FACTS:
            counter = Counter(str(a.facts[fact]) for a in alerts if a.facts.get(fact) is not None)
            if counter:  # most common first; ties in order of first appearance (Counter keeps it)
                ranked = sorted(counter.items(), key=lambda item: -item[1])
                breakdowns[fact] = tuple(ranked[:BREAKDOWN_TOP])
                distinct[fact] = len(counter)
    times = [a.created_at_ms for a in alerts]
    return MailContent(first.kind, first.severity, len(alerts), tuple(alerts[:DIGEST_LIST_LIMIT]),
                       alerts[-1], min(times), max(times), breakdowns, distinct)


def _content(mail: Mail) -> MailContent:
    return mail if isinstance(mail, MailContent) else content_of(mail)


def subject(mail: Mail, *, shadow: bool = False) -> str:
    """`[treasury][SEVERITY] what happened` for one alert or a digest; shadow mode:
    `[treasury][SHADOW][SEVERITY] ...`."""
    content = _content(mail)
    if content.count == 1:
        what = wording.summary(content.first)
    else:
        what = f"{content.count} {wording.PLURAL[content.kind]}"
        top = content.breakdowns.get(wording.DIGEST_BY.get(content.kind, "destination"), ())[:3]
        if top:
            what += " (" + ", ".join(f"{one_line(value, 64)} {n}" for value, n in top) + ")"
    prefix = SUBJECT_PREFIX + (SHADOW_PREFIX if shadow else "")
    return scrub(one_line(f"{prefix}[{content.severity}] {what}", wording.SUBJECT_MAX))


# -- bodies ------------------------------------------------------------------------------

_LABEL_WIDTH = 27


def _fact_value(key: str, facts: Mapping[str, FactValue]) -> str:
    value = facts[key]
    if key == "amount" or key in ("approval_above", "fee", "used", "cap"):
        return amount(facts, key)
    if key == "address":
        return short_address(str(value))
    if key.endswith("_ms") and isinstance(value, int):
        return iso_utc(value)
    return one_line(value)


def fact_lines(alert: Alert, indent: str = "  ") -> list[str]:
    """The alert's facts as aligned `Label: value` lines, intent id first, time last."""
    facts = alert.facts
    rows: list[tuple[str, str]] = []
    if alert.intent_id is not None:
        rows.append(("Intent id", one_line(alert.intent_id)))
    known = {key for key, _ in wording.FACT_ROWS}
    skip = {"coin"} if facts.get("amount") is not None or facts.get("used") is not None else set()
    for key, label in wording.FACT_ROWS:
        if key == "pending_loosenings" and facts.get(key):
            # One row each, never cut: every pending loosening must reach the operator.
            for index, line in enumerate(str(facts[key]).split("; ")):
                rows.append((label if index == 0 else "", one_line(line, 1000)))
            continue
        if facts.get(key) not in (None, "") and key not in skip:
            rows.append((label, _fact_value(key, facts)))
    for key in sorted(k for k in facts if k not in known and facts[k] not in (None, "")):
        rows.append((key.replace("_", " ").capitalize(), _fact_value(key, facts)))
    rows.append(("Raised at", iso_utc(alert.created_at_ms)))
    return [f"{indent}{(label + ':') if label else '':<{_LABEL_WIDTH}} {value}" for label, value in rows]


def _para(text: str) -> str:
    return textwrap.fill(text, width=76, break_long_words=False, break_on_hyphens=False)


def _ctl(verb: str, intent_id: str, *options: str) -> str:
    """A treasuryctl command line; an id starting with '-' goes after '--'."""
    if intent_id.startswith("-"):
        return " ".join(("treasuryctl", verb, *options, "--", intent_id))
    return " ".join(("treasuryctl", verb, intent_id, *options))


def commands(kind: str, intent_id: str | None) -> list[tuple[str, str]]:
    """What the operator can do: (exact command, what it does)."""
    status = ("treasuryctl status", "see the treasury's state, limits and open withdrawals")
    if intent_id is None:
        if kind in (model.KEY_AUDIT_FAILED, model.EXCHANGE_AUTH_ERROR, model.POLICY_CHANGED,
                    model.ADDRESS_BOOK_MISSING, model.DESTINATION_TAG_INVALID, model.KEY_HYGIENE):
            return [("treasuryctl check", "re-run the config, keys and exchange self-audit"), status]
        if kind in (model.WINDOW_CAP_80, model.WITHDRAW_QUOTA_80):
            return [status, ("treasuryctl list", "see the recent intents")]
        return [status]
    show = (_ctl("show", intent_id), "see the intent, its decisions and its withdrawal")
    if kind == model.APPROVAL_NEEDED:
        return [(_ctl("approve", intent_id), "approve it (the limits are checked again now)"),
                (_ctl("reject", intent_id), "reject it (the client is told operator_rejected)"),
                show]
    if kind == model.NEEDS_REVIEW:
        return [show,
                (_ctl("resolve", intent_id, "--as", lifecycle.COMPLETED, "--note", '"..."'),
                 "the exchange shows it was withdrawn"),
                (_ctl("resolve", intent_id, "--as", lifecycle.FAILED, "--note", '"..."'),
                 "the exchange shows it was not withdrawn")]
    if kind in (model.EXCHANGE_AUTH_ERROR, model.KEY_AUDIT_FAILED):
        return [("treasuryctl check", "re-run the config, keys and exchange self-audit"), show, status]
    if kind in (model.WITHDRAWAL_FAILED, model.WITHDRAWAL_REJECTED, model.WITHDRAWAL_CANCELLED,
                model.WITHDRAWAL_STUCK, model.WINDOW_CAP_80, model.WITHDRAW_QUOTA_HELD):
        return [show, status]
    return [show]


def _command_lines(kind: str, intent_id: str | None) -> list[str]:
    rows = commands(kind, intent_id)
    width = max(len(command) for command, _ in rows)
    return [f"  {command:<{width}}   # {what}" for command, what in rows]


def _footer(content: MailContent) -> list[str]:
    return ["", "-- ", f"treasury bot alert: kind {content.kind}, severity {content.severity}, "
            f"{content.count} alert{'s' if content.count > 1 else ''}. Times are UTC."]


def _single_body(alert: Alert) -> list[str]:
    what = wording.WHAT_IT_MEANS[alert.kind]
    if alert.kind == model.INTENT_REJECTED and alert.facts.get("reason_code") == "operator_rejected":
        what = "The operator rejected this intent; nothing was withdrawn for it."
    elif alert.kind == model.INTENT_REJECTED and alert.facts.get("reason_code") == "approval_expired":
        # Issue 13 item 3: nobody approved it in time ([approvals] ttl_hours).
        what = ("No quorum of operators approved this intent within [approvals] ttl_hours, so it "
                "expired; nothing was withdrawn for it, and the client must send a new intent.")
    headline = wording.summary(alert)
    return [_para(headline[:1].upper() + headline[1:] + "."), "", _para(what), "",
            "Facts:", *fact_lines(alert), "",
            "What you can do:", *_command_lines(alert.kind, alert.intent_id)]


def _digest_line(alert: Alert, id_width: int) -> str:
    who = one_line(alert.intent_id, 40) if alert.intent_id is not None else "-"
    what = wording.summary(alert).split(": ", 1)[-1]  # the kind is the digest's, said once above
    return f"  {who:<{id_width}}  {iso_utc(alert.created_at_ms)}  {what}"


def _digest_body(content: MailContent, window_ms: int | None) -> list[str]:
    first, last, count = content.first, content.last, content.count
    window = f" within {window_ms / 1000:g} s of the first" if window_ms else ""
    lines = [_para(f"{count} {wording.PLURAL[first.kind]}, raised between {iso_utc(content.first_created_ms)} "
                   f"and {iso_utc(content.last_created_ms)}{window}, folded into this one mail."), "",
             _para(wording.WHAT_IT_MEANS[first.kind]), ""]
    for fact, label in (("reason_code", "By reason code"), ("status", "By status"),
                        ("destination", "By destination"), ("client", "By client")):
        top = content.breakdowns.get(fact, ())
        if top:
            shown = ", ".join(f"{one_line(value, 64)} {n}" for value, n in top)
            others = content.distinct.get(fact, len(top)) - len(top)
            more = f", and {others} others" if others > 0 else ""
            lines.append(f"{label}: {shown}{more}")
    listed = content.listed[:DIGEST_LIST_LIMIT]
    lines += ["", f"Intent ids, the first {len(listed)} of {count}:"]
    id_width = max(len(one_line(a.intent_id, 40)) if a.intent_id is not None else 1 for a in listed)
    lines += [_digest_line(a, id_width) for a in listed]
    if count > DIGEST_LIST_LIMIT:
        lines.append(f"  and {count - DIGEST_LIST_LIMIT} more")
    lines += ["", "First:", *fact_lines(first), "", "Last:", *fact_lines(last), "",
              "What you can do (for each intent; the first shown):",
              *_command_lines(first.kind, first.intent_id)]
    return lines


SHADOW_LINE = "SHADOW MODE: this treasury decides and journals but sends no withdrawal."


def body(mail: Mail, *, window_ms: int | None = None, shadow: bool = False) -> str:
    """The plain-text body of a mail: one alert, or a digest (shadow mode: a first line says so)."""
    content = _content(mail)
    lines = _single_body(content.first) if content.count == 1 else _digest_body(content, window_ms)
    if shadow:
        lines = [SHADOW_LINE, ""] + lines
    return scrub("\n".join(lines + _footer(content)) + "\n")


def message(mail: Mail, *, mail_from: str, mail_to: Sequence[str], message_id: str,
            date_ms: int, window_ms: int | None = None, shadow: bool = False) -> EmailMessage:
    """The whole mail. `message_id` and `date_ms` are stored with the mail, so a re-send
    after a crash is the same mail, which a mail client can recognise."""
    content = _content(mail)
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ", ".join(mail_to)
    msg["Subject"] = subject(content, shadow=shadow)
    msg["Date"] = formatdate(date_ms / 1000, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg["X-Treasury-Alert"] = f"kind={content.kind}; severity={content.severity}; count={content.count}"
    msg.set_content(body(content, window_ms=window_ms, shadow=shadow))
    return msg


# -- logs --------------------------------------------------------------------------------

_RESERVED_LOG_FIELDS = frozenset({"ts", "level", "program", "logger", "event", "exc"})


def log_fields(alert: Alert) -> dict[str, FactValue]:
    """Fields for one structured log line when alerts are only logged (no SMTP)."""
    fields: dict[str, FactValue] = {"kind": alert.kind, "severity": alert.severity,
                                    "intent_id": alert.intent_id, "summary": wording.summary(alert)}
    for key, value in alert.facts.items():
        if value is not None:
            fields[f"fact_{key}" if key in _RESERVED_LOG_FIELDS or key in fields else key] = value
    return fields
