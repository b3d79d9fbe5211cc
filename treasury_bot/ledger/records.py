"""What the ledger's queries return: plain frozen records, and the row mappers that build
them from the column lists below (the only place that knows a column's position)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from treasury_bot import lifecycle


class LedgerError(Exception):
    code = "ledger_error"


class LedgerSchemaNewer(LedgerError):
    """The ledger file was written by a newer program: refused, and left untouched."""

    code = "ledger_schema_newer"


class LedgerSchemaUnknown(LedgerError):
    """The file holds tables but no schema version: not a ledger this program wrote."""

    code = "ledger_schema_unknown"


@dataclass(frozen=True)
class IntentRecord:
    seq: int
    intent_id: str
    client: str
    coin: str
    network: str
    destination: str
    amount: str
    reason: str
    created_at: int
    received_at: int
    outcome: str
    reason_code: str | None
    detail: str
    status: str
    updated_at: int
    address: str | None
    tag: str | None
    counted_at: int | None
    withdrawal_id: str | None = None
    tx_id: str | None = None

    @property
    def amount_value(self) -> Decimal:
        return Decimal(self.amount)

    @property
    def is_terminal(self) -> bool:
        return lifecycle.is_terminal(self.status)


@dataclass(frozen=True)
class WithdrawalRecord:
    intent_seq: int
    withdrawal_id: str | None
    tx_id: str | None
    exchange_status: int | None
    attempts: int
    first_attempt_at: int | None
    last_attempt_at: int | None
    unknown_since: int | None
    submitted_at: int | None
    finished_at: int | None
    last_polled_at: int | None
    error_code: str | None
    error_message: str | None
    stuck_alerted: bool


@dataclass(frozen=True)
class Transition:
    seq: int
    intent_id: str
    at: int
    from_status: str | None
    to_status: str
    source: str
    note: str
    withdrawal_id: str | None
    tx_id: str | None


@dataclass(frozen=True)
class CountedRow:
    """What window accounting needs of one accepted (or pending) intent."""

    intent_id: str
    coin: str
    destination: str
    amount: str
    counted_at: int
    status: str


@dataclass(frozen=True)
class QueuedWait:
    """A queued intent as the stall check needs it (one row of `Ledger.queued_waits`)."""

    seq: int
    intent_id: str
    queued_since: int            # when it FIRST became queued (its updated_at if never journaled)
    error_code: str | None       # the last apply error, if any
    error_message: str | None
    stall_alerted: bool          # already in withdrawal_stalls (alerted once, for ever)


@dataclass(frozen=True)
class OpenStall:
    """A stalled intent still queued, for `treasuryctl status`."""

    intent_id: str
    alerted_at: int
    reason: str


INTENT_COLUMNS = (
    "i.seq, i.intent_id, i.client, i.coin, i.network, i.destination, i.amount, i.reason, "
    "i.created_at, i.received_at, i.outcome, i.reason_code, i.detail, i.status, "
    "i.updated_at, i.address, i.tag, i.counted_at, w.withdrawal_id, w.tx_id"
)
INTENT_FROM = "intents i LEFT JOIN withdrawals w ON w.intent_seq = i.seq"
INTENT_WIDTH = len(IntentRecord.__dataclass_fields__)
WITHDRAWAL_COLUMNS = (
    "w.intent_seq, w.withdrawal_id, w.tx_id, w.exchange_status, w.attempts, w.first_attempt_at,"
    " w.last_attempt_at, w.unknown_since, w.submitted_at, w.finished_at, w.last_polled_at,"
    " w.error_code, w.error_message, w.stuck_alerted"
)
WITHDRAWAL_FIELDS = frozenset(WithdrawalRecord.__dataclass_fields__) - {"intent_seq"}


def intent(row: tuple) -> IntentRecord:
    return IntentRecord(*row)


def withdrawal(row: tuple) -> WithdrawalRecord:
    values = list(row)
    values[-1] = bool(values[-1])
    return WithdrawalRecord(*values)


def queued_wait(row: tuple) -> QueuedWait:
    seq, intent_id, since, error_code, error_message, alerted = row
    return QueuedWait(int(seq), str(intent_id), int(since), error_code, error_message, bool(alerted))
