"""Alerts into mails a person wants to read: pure functions, no I/O.

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
import unicodedata
from collections import Counter
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate
from typing import Callable, Mapping, Sequence, Union

from common.logs import scrub
from treasury_bot import lifecycle
from treasury_bot.alerts import model
from treasury_bot.alerts.model import BREAKDOWN_FACTS, BREAKDOWN_TOP, Alert, FactValue, MailContent

SUBJECT_PREFIX = "[treasury]"
DIGEST_LIST_LIMIT = 50
_SUBJECT_MAX = 200
_VALUE_MAX = 600

# Short words for the withdraw codes docs/design.md section 4 lists (and the auth codes).
EXCHANGE_CODE_TEXT: Mapping[int, str] = {
    -4026: "insufficient balance",
    -4022: "below the exchange minimum",
    -4021: "not a multiple of the step",
    -4023: "over the 24h maximum",
    -4028: "amount not above the fee",
    -4033: "illegal address",
    -4035: "address not on the exchange whitelist",
    -4036: "new address still locked",
    -4019: "withdrawals closed for the asset",
    -1022: "signature rejected",
    -2014: "API key format invalid",
    -2015: "invalid API key, IP or permissions",
}

# -- small formatters --------------------------------------------------------------------


def iso_utc(ms: int) -> str:
    """Milliseconds since the epoch as `2026-05-09T12:00:01.123Z`."""
    seconds, millis = divmod(int(ms), 1000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


def short_address(address: str) -> str:
    """First 6 and last 4 characters: enough to recognise, short enough to read."""
    return address if len(address) <= 13 else f"{address[:6]}...{address[-4:]}"


def one_line(value: object, limit: int = _VALUE_MAX) -> str:
    """Text on one line: control characters (CR, LF, ...) become spaces, long text is cut."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _amount(facts: Mapping[str, FactValue], key: str = "amount") -> str:
    value = facts.get(key)
    coin = facts.get("coin")
    if value is None:
        return "?"
    return f"{value} {coin}" if coin else str(value)


def _transfer(facts: Mapping[str, FactValue]) -> str:
    return f"{_amount(facts)} to {facts.get('destination') or '?'}"


def _exchange_error(facts: Mapping[str, FactValue]) -> str:
    code = facts.get("exchange_code")
    message = facts.get("exchange_message")
    if isinstance(code, int):
        text = EXCHANGE_CODE_TEXT.get(code) or (one_line(message, 60) if message else "")
        return f"{code} {text}".strip()
    return one_line(message or facts.get("detail") or "", 60)


# -- subjects ----------------------------------------------------------------------------


def _s_start(f: Mapping[str, FactValue]) -> str:
    text = (f"treasury started: {f.get('destinations')} destinations, "
            f"{f.get('open_withdrawals')} open withdrawals, key {f.get('api_key')}")
    return text + (" (with warnings)" if f.get("warnings") else "")


def _s_failed(f: Mapping[str, FactValue]) -> str:
    why = _exchange_error(f)
    return f"withdrawal failed: {_transfer(f)}" + (f" ({why})" if why else "")


def _s_stuck(f: Mapping[str, FactValue]) -> str:
    return (f"withdrawal stuck: {_transfer(f)} ({f.get('status')} for over "
            f"{f.get('stuck_after_minutes')} min)")


def _s_window(f: Mapping[str, FactValue]) -> str:
    where = f"destination {f.get('destination')}" if f.get("destination") else f"coin {f.get('coin')}"
    return (f"window cap over 80%: {_amount(f, 'used')} of {_amount(f, 'cap')} "
            f"({f.get('percent')}%) for {where}")


def _s_policy(f: Mapping[str, FactValue]) -> str:
    old = str(f.get("old_sha256") or "none")[:12]
    return f"policy file changed: sha256 {old} -> {str(f.get('new_sha256'))[:12]}"


def _s_completed(f: Mapping[str, FactValue]) -> str:
    tx = f.get("tx_id")
    return f"withdrawal completed: {_transfer(f)}" + (f" (tx {short_address(str(tx))})" if tx else "")


def _s_clock(f: Mapping[str, FactValue]) -> str:
    offset = f.get("exchange_minus_host")
    if not isinstance(offset, int):
        return "host clock and exchange clock disagree"
    seconds = (abs(offset) + 500) // 1000  # to the nearest second: a measurement is off by ms
    hours, rest = divmod(seconds, 3600)
    span = f"{hours} h {rest // 60} min" if hours else (f"{rest // 60} min {rest % 60} s" if rest >= 60 else f"{rest} s")
    side = "behind" if offset > 0 else "ahead of"
    return f"host clock {span} {side} the exchange's clock (more than {f.get('threshold_seconds')} s apart)"


_SUMMARY: Mapping[str, Callable[[Mapping[str, FactValue]], str]] = {
    model.START_SUMMARY: _s_start,
    model.KEY_AUDIT_FAILED: lambda f: f"key self-audit failed: {f.get('problem')} (key {f.get('api_key')})",
    model.INTENT_REJECTED: lambda f: f"intent rejected: {_transfer(f)} ({f.get('reason_code')})",
    model.APPROVAL_NEEDED: lambda f: f"approval needed: {_transfer(f)} (above {_amount(f, 'approval_above')})",
    model.WITHDRAWAL_SUBMITTED: lambda f: (
        f"withdrawal submitted: {_transfer(f)} (exchange id {f.get('withdrawal_id') or '?'})"),
    model.WITHDRAWAL_COMPLETED: _s_completed,
    model.WITHDRAWAL_FAILED: _s_failed,
    model.WITHDRAWAL_REJECTED: lambda f: f"withdrawal rejected by the exchange: {_transfer(f)}",
    model.WITHDRAWAL_CANCELLED: lambda f: f"withdrawal cancelled: {_transfer(f)}",
    model.WITHDRAWAL_STUCK: _s_stuck,
    model.NEEDS_REVIEW: lambda f: f"needs review: {_transfer(f)} (outcome unknown, status needs_review)",
    model.EXCHANGE_AUTH_ERROR: lambda f: (
        f"exchange auth error: {_exchange_error(f)} ({f.get('action') or 'withdrawals stopped'})"),
    model.WINDOW_CAP_80: _s_window,
    model.POLICY_CHANGED: _s_policy,
    model.TEST: lambda f: "test mail from the treasury",
    model.CLOCK_DISAGREEMENT: _s_clock,
}

# How a digest counts its alerts: "200 rejected intents".
_PLURAL: Mapping[str, str] = {
    model.START_SUMMARY: "treasury starts",
    model.KEY_AUDIT_FAILED: "key self-audit failures",
    model.INTENT_REJECTED: "rejected intents",
    model.APPROVAL_NEEDED: "intents waiting for approval",
    model.WITHDRAWAL_SUBMITTED: "withdrawals submitted",
    model.WITHDRAWAL_COMPLETED: "withdrawals completed",
    model.WITHDRAWAL_FAILED: "withdrawals failed",
    model.WITHDRAWAL_REJECTED: "withdrawals rejected by the exchange",
    model.WITHDRAWAL_CANCELLED: "withdrawals cancelled",
    model.WITHDRAWAL_STUCK: "stuck withdrawals",
    model.NEEDS_REVIEW: "withdrawals needing review",
    model.EXCHANGE_AUTH_ERROR: "exchange auth errors",
    model.WINDOW_CAP_80: "window cap warnings",
    model.POLICY_CHANGED: "policy file changes",
    model.TEST: "test alerts",
    model.CLOCK_DISAGREEMENT: "clock disagreements",
}

# The fact a digest breaks its alerts down by, in the subject and body.
_DIGEST_BY: Mapping[str, str] = {
    model.INTENT_REJECTED: "reason_code",
    model.WITHDRAWAL_STUCK: "status",
    model.WINDOW_CAP_80: "coin",
}


def summary(alert: Alert) -> str:
    """What happened, in one line: the subject without its `[treasury][SEVERITY]` prefix."""
    return one_line(_SUMMARY[alert.kind](alert.facts), _SUBJECT_MAX)


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


def subject(mail: Mail) -> str:
    """`[treasury][SEVERITY] what happened` for one alert or a digest."""
    content = _content(mail)
    if content.count == 1:
        what = summary(content.first)
    else:
        what = f"{content.count} {_PLURAL[content.kind]}"
        top = content.breakdowns.get(_DIGEST_BY.get(content.kind, "destination"), ())[:3]
        if top:
            what += " (" + ", ".join(f"{one_line(value, 64)} {n}" for value, n in top) + ")"
    return scrub(one_line(f"{SUBJECT_PREFIX}[{content.severity}] {what}", _SUBJECT_MAX))


# -- bodies ------------------------------------------------------------------------------

_WHAT_IT_MEANS: Mapping[str, str] = {
    model.START_SUMMARY: "The treasury bot started and passed its checks.",
    model.KEY_AUDIT_FAILED: ("The treasury's API key failed its self-audit. The treasury does not "
                             "withdraw with a key that fails it: fix the key's permissions or IP "
                             "restriction on the exchange (or the policy override), then restart."),
    model.INTENT_REJECTED: "A transfer intent was rejected; nothing was withdrawn for it.",
    model.APPROVAL_NEEDED: ("A transfer intent is above the approval threshold. It waits for you "
                            "and nothing is withdrawn until you approve it. Approving re-checks "
                            "the limits at that moment."),
    model.WITHDRAWAL_SUBMITTED: "The exchange accepted the withdrawal request; the treasury now polls its status.",
    model.WITHDRAWAL_COMPLETED: "The exchange reports the withdrawal completed.",
    model.WITHDRAWAL_FAILED: ("The withdrawal failed and will not be retried. The exchange's "
                              "code and message are below."),
    model.WITHDRAWAL_REJECTED: ("The exchange rejected the withdrawal after accepting the request. "
                                "It will not be retried."),
    model.WITHDRAWAL_CANCELLED: "The withdrawal was cancelled at the exchange. It will not be retried.",
    model.WITHDRAWAL_STUCK: ("This withdrawal has been open longer than stuck_after_minutes. "
                             "The treasury keeps polling it; this alert is sent once."),
    model.NEEDS_REVIEW: ("The treasury cannot prove whether this withdrawal happened, so it will "
                         "neither retry it nor give up on it by itself. Look it up in the "
                         "exchange's withdraw history (withdrawOrderId = the intent id), then "
                         "tell the treasury what happened with `treasuryctl resolve`."),
    model.EXCHANGE_AUTH_ERROR: ("The exchange refused the treasury's API key (signature, key "
                                "format, IP or permission). Withdrawals are stopped until the "
                                "key works again."),
    model.WINDOW_CAP_80: ("Transfers in the rolling window passed 80% of a cap. Once the cap is "
                          "reached, intents are rejected with over_window_limit."),
    model.POLICY_CHANGED: ("The policy file differs from the one the treasury ran with before. "
                           "If you did not change it, stop the treasury and find out who did."),
    model.TEST: "A test mail (`treasuryctl alerts test`). If you can read it, alerts reach you.",
    model.CLOCK_DISAGREEMENT: ("This host's clock and the exchange's clock are more than a minute "
                               "apart. The treasury decides, stamps and expires on the exchange's "
                               "clock, so intents are still decided on time and no window reopens; "
                               "but treasuryctl, the logs and other programs on this host use the "
                               "host clock. Fix the host's time (NTP). A log line "
                               "(clock_back_in_line) says when the clocks agree again."),
}

# (fact, label) in the order a person reads them; facts not listed are shown after them.
_FACT_ROWS: tuple[tuple[str, str], ...] = (
    ("status", "Status"),
    ("client", "Client"),
    ("amount", "Amount"),
    ("network", "Network"),
    ("destination", "Destination"),
    ("address", "Address"),
    ("reason_code", "Reason code"),
    ("approval_above", "Approval above"),
    ("withdrawal_id", "Exchange withdrawal id"),
    ("tx_id", "Transaction id"),
    ("fee", "Fee"),
    ("exchange_code", "Exchange code"),
    ("exchange_message", "Exchange message"),
    ("submitted_at_ms", "Submitted at"),
    ("completed_at_ms", "Completed at"),
    ("stuck_after_minutes", "Stuck after (minutes)"),
    ("problem", "Problem"),
    ("action", "Action taken"),
    ("api_key", "API key (masked)"),
    ("scope", "Cap of"),
    ("coin", "Coin"),
    ("used", "Used in window"),
    ("cap", "Window cap"),
    ("percent", "Percent of cap"),
    ("path", "Policy file"),
    ("old_sha256", "Previous sha256"),
    ("new_sha256", "New sha256"),
    ("version", "Version"),
    ("policy_sha256", "Policy sha256"),
    ("destinations", "Destinations"),
    ("open_withdrawals", "Open withdrawals"),
    ("pending_approvals", "Pending approvals"),
    ("mail", "Alerts go to"),
    ("warnings", "Warnings"),
    ("pending_loosenings", "Pending loosenings"),
    ("detail", "Detail"),
    ("reason", "Client's reason (as sent)"),
    ("exchange_minus_host", "Exchange minus host (ms)"),
    ("host_time_ms", "Host clock read"),
    ("exchange_time_ms", "Exchange clock read"),
    ("threshold_seconds", "Alerted beyond (seconds)"),
)
_LABEL_WIDTH = 27


def _fact_value(key: str, facts: Mapping[str, FactValue]) -> str:
    value = facts[key]
    if key == "amount" or key in ("approval_above", "fee", "used", "cap"):
        return _amount(facts, key)
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
    known = {key for key, _ in _FACT_ROWS}
    skip = {"coin"} if facts.get("amount") is not None or facts.get("used") is not None else set()
    for key, label in _FACT_ROWS:
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
        if kind in (model.KEY_AUDIT_FAILED, model.EXCHANGE_AUTH_ERROR, model.POLICY_CHANGED):
            return [("treasuryctl check", "re-run the config, keys and exchange self-audit"), status]
        if kind == model.WINDOW_CAP_80:
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
                model.WITHDRAWAL_STUCK, model.WINDOW_CAP_80):
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
    what = _WHAT_IT_MEANS[alert.kind]
    if alert.kind == model.INTENT_REJECTED and alert.facts.get("reason_code") == "operator_rejected":
        what = "The operator rejected this intent; nothing was withdrawn for it."
    headline = summary(alert)
    return [_para(headline[:1].upper() + headline[1:] + "."), "", _para(what), "",
            "Facts:", *fact_lines(alert), "",
            "What you can do:", *_command_lines(alert.kind, alert.intent_id)]


def _digest_line(alert: Alert, id_width: int) -> str:
    who = one_line(alert.intent_id, 40) if alert.intent_id is not None else "-"
    what = summary(alert).split(": ", 1)[-1]  # the kind is the digest's, said once above
    return f"  {who:<{id_width}}  {iso_utc(alert.created_at_ms)}  {what}"


def _digest_body(content: MailContent, window_ms: int | None) -> list[str]:
    first, last, count = content.first, content.last, content.count
    window = f" within {window_ms / 1000:g} s of the first" if window_ms else ""
    lines = [_para(f"{count} {_PLURAL[first.kind]}, raised between {iso_utc(content.first_created_ms)} "
                   f"and {iso_utc(content.last_created_ms)}{window}, folded into this one mail."), "",
             _para(_WHAT_IT_MEANS[first.kind]), ""]
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


def body(mail: Mail, *, window_ms: int | None = None) -> str:
    """The plain-text body of a mail: one alert, or a digest."""
    content = _content(mail)
    lines = _single_body(content.first) if content.count == 1 else _digest_body(content, window_ms)
    return scrub("\n".join(lines + _footer(content)) + "\n")


def message(mail: Mail, *, mail_from: str, mail_to: Sequence[str], message_id: str,
            date_ms: int, window_ms: int | None = None) -> EmailMessage:
    """The whole mail. `message_id` and `date_ms` are stored with the mail, so a re-send
    after a crash is the same mail, which a mail client can recognise."""
    content = _content(mail)
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = ", ".join(mail_to)
    msg["Subject"] = subject(content)
    msg["Date"] = formatdate(date_ms / 1000, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg["X-Treasury-Alert"] = f"kind={content.kind}; severity={content.severity}; count={content.count}"
    msg.set_content(body(content, window_ms=window_ms))
    return msg


# -- logs and the CLI --------------------------------------------------------------------

_RESERVED_LOG_FIELDS = frozenset({"ts", "level", "program", "logger", "event", "exc"})


def log_fields(alert: Alert) -> dict[str, FactValue]:
    """Fields for one structured log line when alerts are only logged (no SMTP)."""
    fields: dict[str, FactValue] = {"kind": alert.kind, "severity": alert.severity,
                                    "intent_id": alert.intent_id, "summary": summary(alert)}
    for key, value in alert.facts.items():
        if value is not None:
            fields[f"fact_{key}" if key in _RESERVED_LOG_FIELDS or key in fields else key] = value
    return fields


def listing_lines(rows) -> list[str]:
    """`treasuryctl alerts list` output: one line per outbox row (`ledger.ListedAlert`)."""
    lines = []
    for row in rows:
        alert = row.alert
        if row.sent_at_ms is not None:
            state = f"sent {iso_utc(row.sent_at_ms)} via {row.channel}"
            if row.mail_id is not None:
                state += f" (mail {row.mail_id})"
        elif row.mail_id is not None:
            state = f"unsent, in mail {row.mail_id} ({row.mail_state})"
        else:
            state = "unsent"
        lines.append(f"{row.seq:>7}  {iso_utc(alert.created_at_ms)}  {alert.severity:<8}  "
                     f"{alert.kind:<20}  {alert.intent_id or '-'}  {summary(alert).split(': ', 1)[-1]}"
                     f"  [{state}]")
    return [scrub(line) for line in lines]


# -- issue 10, defect 3: the stalled alert (registered after the tables, for clean merges).
_SUMMARY = {**_SUMMARY, model.WITHDRAWAL_STALLED: lambda f: (
    f"withdrawal not sent: {_transfer(f)} (queued for over {f.get('stuck_after_minutes')} min: "
    f"{f.get('detail')})")}
_PLURAL = {**_PLURAL, model.WITHDRAWAL_STALLED: "withdrawals that could not be sent"}
_WHAT_IT_MEANS = {**_WHAT_IT_MEANS, model.WITHDRAWAL_STALLED: (
    "This accepted withdrawal could not be sent to the exchange for longer than "
    "stuck_after_minutes; nothing was withdrawn for it yet. The treasury keeps trying; the "
    "reason below is the last one it met (an exchange error, or withdrawals halted). "
    "`treasuryctl status` lists every such intent. This alert is sent once per intent.")}
_FACT_ROWS = (*_FACT_ROWS, ("queued_since_ms", "Queued since"))
# Issue 10 defects 6 and 8: the new kinds' words, added to the tables above.
_SUMMARY = {**_SUMMARY,
            model.CLIENT_RATE_LIMITED: lambda f: (
                f"client {f.get('client')} over its request budget: {f.get('refused')} intents refused "
                f"(max {f.get('max_requests_per_minute')}/min)"),
            model.LEDGER_DISK_LOW: lambda f: (
                f"ledger disk low: {f.get('free_mb')} MB free (min {f.get('min_free_disk_mb')} MB); "
                "new intents refused"),
            model.THREAD_FAILING: lambda f: f"thread {f.get('thread')} failing: {f.get('error_type')}",
            model.THREAD_RECOVERED: lambda f: (
                f"thread {f.get('thread')} recovered after {f.get('failures')} failures")}
_PLURAL = {**_PLURAL, model.CLIENT_RATE_LIMITED: "client budget refusals digests",
           model.LEDGER_DISK_LOW: "ledger disk low alerts", model.THREAD_FAILING: "failing threads",
           model.THREAD_RECOVERED: "recovered threads"}
_WHAT_IT_MEANS = {**_WHAT_IT_MEANS,
                  model.CLIENT_RATE_LIMITED: (
                      "A client sent more transfer intents than its [limits.clients.NAME] "
                      "max_requests_per_minute. The excess was refused (client_rate_limited) and not "
                      "journaled one by one; this alert counts them, at most once a minute per client."),
                  model.LEDGER_DISK_LOW: (
                      "The ledger's filesystem is nearly full. New intents get error/internal so that "
                      "clients retry them later; withdrawals in flight are still followed. Free space "
                      "on the ledger's filesystem; intents are accepted again once it is above the minimum."),
                  model.THREAD_FAILING: (
                      "A background thread (executor, poller, coin rules or alert sender) keeps failing. "
                      "It retries with backoff; see the treasury's log for the traceback. This alert is "
                      "sent once per failure episode."),
                  model.THREAD_RECOVERED: "The background thread that was failing works again."}
