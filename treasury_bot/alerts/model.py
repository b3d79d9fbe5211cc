"""What an alert is: a kind, how bad it is, the intent it concerns, and flat facts.

An `Alert` is plain data, frozen, and JSON-able: it is written to the ledger's outbox in
the same transaction as the change that raised it, and rendered into a mail later by the
sender. Build alerts with the constructors in `events.py` so kinds cannot be misspelled
and facts have the names the renderer knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Union

INFO = "INFO"
WARNING = "WARNING"
CRITICAL = "CRITICAL"
SEVERITIES = (INFO, WARNING, CRITICAL)

# Stable kind names: they are stored in the ledger and shown in mails and the CLI.
START_SUMMARY = "start_summary"
KEY_AUDIT_FAILED = "key_audit_failed"
INTENT_REJECTED = "intent_rejected"
APPROVAL_NEEDED = "approval_needed"
WITHDRAWAL_SUBMITTED = "withdrawal_submitted"
WITHDRAWAL_COMPLETED = "withdrawal_completed"
WITHDRAWAL_FAILED = "withdrawal_failed"
WITHDRAWAL_REJECTED = "withdrawal_rejected"
WITHDRAWAL_CANCELLED = "withdrawal_cancelled"
WITHDRAWAL_STUCK = "withdrawal_stuck"
NEEDS_REVIEW = "needs_review"
EXCHANGE_AUTH_ERROR = "exchange_auth_error"
WINDOW_CAP_80 = "window_cap_80"
POLICY_CHANGED = "policy_changed"
TEST = "test"
CLOCK_DISAGREEMENT = "clock_disagreement"

KINDS = (
    START_SUMMARY, KEY_AUDIT_FAILED, INTENT_REJECTED, APPROVAL_NEEDED,
    WITHDRAWAL_SUBMITTED, WITHDRAWAL_COMPLETED, WITHDRAWAL_FAILED, WITHDRAWAL_REJECTED,
    WITHDRAWAL_CANCELLED, WITHDRAWAL_STUCK, NEEDS_REVIEW, EXCHANGE_AUTH_ERROR,
    WINDOW_CAP_80, POLICY_CHANGED, TEST,
    CLOCK_DISAGREEMENT,
)

# CRITICAL means "mail it alone, now, never fold it". docs/design.md names auth errors,
# needs_review, key self-audit failures and policy changes. A failed or exchange-rejected
# withdrawal is money that did not move as decided, so it is CRITICAL too; it cannot
# flood (every one was an accepted, rate-limited withdrawal). Nothing a client can
# trigger at will (a rejected intent) is CRITICAL, so a hostile client's flood folds.
_DEFAULT_SEVERITY: Mapping[str, str] = {
    START_SUMMARY: INFO,
    KEY_AUDIT_FAILED: CRITICAL,
    INTENT_REJECTED: WARNING,
    APPROVAL_NEEDED: WARNING,
    WITHDRAWAL_SUBMITTED: INFO,
    WITHDRAWAL_COMPLETED: INFO,
    WITHDRAWAL_FAILED: CRITICAL,
    WITHDRAWAL_REJECTED: CRITICAL,
    WITHDRAWAL_CANCELLED: WARNING,
    WITHDRAWAL_STUCK: WARNING,
    NEEDS_REVIEW: CRITICAL,
    EXCHANGE_AUTH_ERROR: CRITICAL,
    WINDOW_CAP_80: WARNING,
    POLICY_CHANGED: CRITICAL,
    TEST: INFO,
    # The treasury itself decides on the exchange's clock, so nothing is decided wrong;
    # but the host's clock is off (treasuryctl, logs, other programs): fix it soon.
    CLOCK_DISAGREEMENT: WARNING,
}

FactValue = Union[str, int, None]
_FACT_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")


class AlertError(ValueError):
    """An alert that cannot be stored: unknown kind or severity, or a bad fact."""

    code = "alert_invalid"


def severity_of(kind: str, facts: Mapping[str, FactValue]) -> str:
    """The default severity of an alert of this kind with these facts."""
    if kind not in _DEFAULT_SEVERITY:
        raise AlertError(f"unknown alert kind {kind!r}")
    if kind == INTENT_REJECTED and facts.get("reason_code") == "operator_rejected":
        return INFO  # the operator's own action: worth a record, not a warning
    if kind == START_SUMMARY and facts.get("warnings"):
        return WARNING  # e.g. started with allow_unrestricted_ip: docs/design.md says "loudly"
    return _DEFAULT_SEVERITY[kind]


@dataclass(frozen=True)
class Alert:
    """One thing the operator must hear about. `facts` is flat: str keys, str/int/None values."""

    kind: str
    severity: str
    intent_id: str | None
    facts: dict[str, FactValue] = field(hash=False)
    created_at_ms: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AlertError(f"unknown alert kind {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise AlertError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        if self.intent_id is not None and not isinstance(self.intent_id, str):
            raise AlertError("intent_id must be a string or None")
        if not isinstance(self.created_at_ms, int) or isinstance(self.created_at_ms, bool):
            raise AlertError("created_at_ms must be integer milliseconds")
        # Copy, so that a caller mutating its dict cannot change a frozen alert.
        object.__setattr__(self, "facts", _checked_facts(self.facts))


def _checked_facts(facts: Mapping[str, FactValue]) -> dict[str, FactValue]:
    if not isinstance(facts, Mapping):
        raise AlertError("facts must be a mapping")
    checked: dict[str, FactValue] = {}
    for key, value in facts.items():
        if not isinstance(key, str) or not _FACT_KEY.match(key):
            raise AlertError(f"fact name {key!r} must be lower_snake_case")
        # bool is an int subclass and float is money's enemy: both are refused.
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise AlertError(f"fact {key!r} must be a str, int or None, not {type(value).__name__}")
        checked[key] = value
    return checked


@dataclass(frozen=True)
class OutboxAlert:
    """An alert as stored in the outbox: its sequence number and the alert."""

    seq: int
    alert: Alert


@dataclass(frozen=True)
class PendingAlert:
    """What the digest planner needs of an alert not yet in a mail: no facts, so that a
    flood of them is cheap to read."""

    seq: int
    kind: str
    severity: str
    created_at_ms: int


@dataclass(frozen=True)
class MailContent:
    """What one mail says, whether it holds one alert or a digest of 100,000.

    Built from alerts in memory (`render.content_of`) or by SQL aggregates over the
    outbox (`Outbox.mail_content`), so that a huge digest is never loaded whole.
    `listed` is the first alerts in outbox order (at most `render.DIGEST_LIST_LIMIT`);
    `breakdowns` maps a fact to its most common values, most common first (ties: first
    seen first), at most 10; `distinct` is how many different values each fact had.
    """

    kind: str
    severity: str
    count: int
    listed: tuple[Alert, ...]
    last: Alert
    first_created_ms: int
    last_created_ms: int
    breakdowns: Mapping[str, tuple[tuple[str, int], ...]]
    distinct: Mapping[str, int]

    @property
    def first(self) -> Alert:
        return self.listed[0]


# Facts a digest counts by (in its subject and body).
BREAKDOWN_FACTS = ("reason_code", "status", "destination", "client", "coin")
BREAKDOWN_TOP = 10


# -- issue 10, defect 3: an accepted intent that could not be sent for stuck_after_minutes.
# Registered here, after the table above, so that parallel additions merge cleanly.
WITHDRAWAL_STALLED = "withdrawal_stalled"
KINDS = (*KINDS, WITHDRAWAL_STALLED)
# WARNING: nothing left the treasury, but money that was decided has not moved; it is
# raised once per intent, so it cannot flood.
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, WITHDRAWAL_STALLED: WARNING}
# Issue 10 defects 6 and 8 (docs/design.md section 9). Appended, not merged into the tables above,
# to keep parallel branches' edits apart; KINDS and the severities stay defined once, here.
CLIENT_RATE_LIMITED = "client_rate_limited"   # a digest: one per client per minute, with the count
LEDGER_DISK_LOW = "ledger_disk_low"           # new intents fail closed until space is freed
THREAD_FAILING = "thread_failing"             # a background thread's iterations keep failing
THREAD_RECOVERED = "thread_recovered"         # ... and then one succeeded again
KINDS = KINDS + (CLIENT_RATE_LIMITED, LEDGER_DISK_LOW, THREAD_FAILING, THREAD_RECOVERED)
# A client can raise client_rate_limited at will: WARNING, so it folds (see above).
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, CLIENT_RATE_LIMITED: WARNING, LEDGER_DISK_LOW: CRITICAL,
                     THREAD_FAILING: CRITICAL, THREAD_RECOVERED: INFO}
# Issue 12 (docs/design.md section 6): a destination the exchange's own rules refuse, found at
# a coin-rules refresh; once per destination per episode. WARNING: nothing is sent to it
# (its intents are refused), but withdrawals there stop until the operator acts.
ADDRESS_BOOK_MISSING = "address_book_missing"        # not in the account's address book
DESTINATION_TAG_INVALID = "destination_tag_invalid"  # its tag against withdrawTag / memoRegex
KINDS = KINDS + (ADDRESS_BOOK_MISSING, DESTINATION_TAG_INVALID)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, ADDRESS_BOOK_MISSING: WARNING, DESTINATION_TAG_INVALID: WARNING}
# Issue 12 item 4 (docs/design.md section 6): the exchange's 24-hour withdrawal quota
# (treasury_bot/withdraw_quota.py). WARNING: nothing is lost, withdrawals wait for it.
WITHDRAW_QUOTA_80 = "withdraw_quota_80"        # its use reached 80%; once per crossing
WITHDRAW_QUOTA_HELD = "withdraw_quota_held"    # an intent waits for it; once per intent
KINDS = KINDS + (WITHDRAW_QUOTA_80, WITHDRAW_QUOTA_HELD)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, WITHDRAW_QUOTA_80: WARNING, WITHDRAW_QUOTA_HELD: WARNING}
# Issue 13 (docs/design.md section 9): the custody controls. CRITICAL: each is either an
# operator's stop of all movement, money moved by another road, or history in doubt; none
# can be raised at will by a client (a breaker trips once, then withdrawals stay frozen).
FROZEN = "frozen"                          # treasuryctl freeze: every apply stops
UNFROZEN = "unfrozen"                      # treasuryctl unfreeze: applies go on
BREAKER_TRIPPED = "breaker_tripped"        # a circuit breaker froze the treasury by itself
FOREIGN_WITHDRAWAL = "foreign_withdrawal"  # a withdrawal on the account the ledger did not make
JOURNAL_BROKEN = "journal_broken"          # the journal's hash chain failed verification
DAILY_STATEMENT = "daily_statement"        # what moved, what is open, window usage, chain head
WOULD_WITHDRAW = "would_withdraw"          # shadow mode: the apply that live mode would send
KINDS = KINDS + (FROZEN, UNFROZEN, BREAKER_TRIPPED, FOREIGN_WITHDRAWAL, JOURNAL_BROKEN, DAILY_STATEMENT,
                 WOULD_WITHDRAW)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, FROZEN: CRITICAL, UNFROZEN: CRITICAL, BREAKER_TRIPPED: CRITICAL,
                     FOREIGN_WITHDRAWAL: CRITICAL, JOURNAL_BROKEN: CRITICAL, DAILY_STATEMENT: INFO,
                     WOULD_WITHDRAW: INFO}
# Issue 13 item 3: the quorum let a pending loosening skip the rest of its quarantine.
LOOSENING_RELEASED = "loosening_released"  # treasuryctl loosen-early at the quorum
KINDS = KINDS + (LOOSENING_RELEASED,)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, LOOSENING_RELEASED: CRITICAL}
# Issue 16 item 1: a reload (SIGHUP, treasuryctl reload) kept the running value of one of its
# parts (the allow-list, the policy file, the exchange key): CRITICAL, the operator's change
# is not in force and the file on disk is not what runs.
RELOAD_REFUSED = "reload_refused"          # part: clients | policy | exchange_key
KINDS = KINDS + (RELOAD_REFUSED,)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, RELOAD_REFUSED: CRITICAL}
# Issue 16 item 2 (common/key_hygiene.py): the exchange key is older than [keys]
# rotate_after_days or its trading right expires within 14 days. WARNING: nothing stops; at
# most once a week (treasury_bot/key_hygiene_watch.py keeps the week in the ledger).
KEY_HYGIENE = "key_hygiene"
KINDS = KINDS + (KEY_HYGIENE,)
_DEFAULT_SEVERITY = {**_DEFAULT_SEVERITY, KEY_HYGIENE: WARNING}
