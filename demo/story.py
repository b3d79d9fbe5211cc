"""What the demo is meant to show, recognised in its log: the checklist `make demo` prints.

A pure fold over the supervised programs' output lines (`NAME      | ...`, as written by
`demo.prefix`). The bots' lines are `key=value` (LOG_FORMAT=text) or JSON
(LOG_FORMAT=json); both are read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# (key, what the user saw), in the order the story tells it.
MILESTONES: tuple[tuple[str, str], ...] = (
    ("orders_placed", "orders placed on the exchange"),
    ("bad_secret_refused", "a signal with the wrong secret refused at the webhook (401)"),
    ("duplicate_refused", "a replayed signal refused as a duplicate"),
    ("unknown_symbol_refused", "a symbol outside the allow-list refused"),
    ("below_minimum_refused", "an order under the exchange's minimum refused"),
    ("sweep_accepted", "the sweep intent accepted by the treasury"),
    ("withdrawal_processing", "the sweep's withdrawal processing"),
    ("withdrawal_completed", "the sweep's withdrawal completed"),
    ("completion_mailed", "the alert mails printed by the SMTP sink"),
)

_PREFIXED = re.compile(r"^(?P<program>[\w.-]+)\s*\| (?P<rest>.*)$")
_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_MAIL = re.compile(r"^mail (\d+) received: (.*)$")
_MAIL_END = re.compile(r"^end of mail (\d+)$")
_COMPLETED_SUBJECT = re.compile(r"withdrawals? completed")
_REFUSALS = {"duplicate": "duplicate_refused", "unknown_symbol": "unknown_symbol_refused",
             "below_min_notional": "below_minimum_refused"}


def split_line(line: str) -> tuple[str, str] | None:
    """`treasury  | text` -> ("treasury", "text"); None for supervisord's own lines."""
    match = _PREFIXED.match(line.rstrip("\n"))
    return (match.group("program"), match.group("rest")) if match else None


def fields_of(text: str) -> dict[str, str]:
    """A log line's fields, from `key=value` text or a JSON object."""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    found = {}
    for key, value in _PAIR.findall(text):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.strip('"')
        found[key] = value
    return found


@dataclass
class Story:
    """Feed it lines; it remembers which milestones were reached and the sweep's intent id."""

    reached: dict[str, int] = field(default_factory=dict)   # key -> how many times
    sweep_intents: list[str] = field(default_factory=list)
    mails: list[str] = field(default_factory=list)           # subjects, in order
    _open_mail: list[str] | None = None                       # the lines of the mail being printed

    def feed(self, line: str) -> list[str]:
        """Take one line; return the milestones it reached for the first time."""
        before = set(self.reached)
        parsed = split_line(line)
        if parsed is not None:
            self._take(*parsed)
        return [key for key, _ in MILESTONES if key in self.reached and key not in before]

    @property
    def complete(self) -> bool:
        return all(key in self.reached for key, _ in MILESTONES)

    def checklist(self) -> list[str]:
        lines = []
        for key, text in MILESTONES:
            count = self.reached.get(key, 0)
            times = f" ({count})" if count > 1 else ""
            lines.append(f"  [{'x' if count else ' '}] {text}{times}")
        return lines

    def _hit(self, key: str) -> None:
        self.reached[key] = self.reached.get(key, 0) + 1

    def _take(self, program: str, text: str) -> None:
        if program == "smtp-sink":
            mail = _MAIL.match(text)
            if mail:
                self.mails.append(mail.group(2))
                self._open_mail = [text]
            elif self._open_mail is not None and _MAIL_END.match(text):
                # Counted once printed whole, and only for this run's sweep: a digest
                # ("3 withdrawals completed") lists its intent ids in the body.
                mail_text = "\n".join(self._open_mail)
                if (_COMPLETED_SUBJECT.search(self._open_mail[0])
                        and any(intent in mail_text for intent in self.sweep_intents)):
                    self._hit("completion_mailed")
                self._open_mail = None
            elif self._open_mail is not None:
                self._open_mail.append(text)
            return
        fields = fields_of(text)
        event = fields.get("event")
        if program == "signal":
            if event == "order_placed":
                self._hit("orders_placed")
            elif event == "webhook_refused" and fields.get("status") == "401":
                self._hit("bad_secret_refused")
            elif event == "order_refused" and fields.get("reason") in _REFUSALS:
                self._hit(_REFUSALS[fields["reason"]])
        elif program == "treasury":
            intent_id = fields.get("intent_id", "")
            if (event == "intent_decided" and fields.get("outcome") == "accepted"
                    and intent_id.startswith("sw-")):
                self.sweep_intents.append(intent_id)
                self._hit("sweep_accepted")
            elif event == "withdrawal_status" and intent_id in self.sweep_intents:
                if fields.get("status") == "processing":
                    self._hit("withdrawal_processing")
                elif fields.get("status") == "completed":
                    self._hit("withdrawal_completed")
