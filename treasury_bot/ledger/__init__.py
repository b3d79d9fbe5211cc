"""The treasury's ledger: the one SQLite file that is the truth, and the only code that
speaks SQL to it. `Ledger` (core.py) with its parts (withdrawals.py, start_journal.py,
outbox.py), the records its queries return (records.py), and the schema with its
versions and migrations (schema.py)."""

from treasury_bot import lifecycle
from treasury_bot.ledger.controls import FreezeRow
from treasury_bot.ledger.core import Ledger
from treasury_bot.ledger.foreign import ForeignRow
from treasury_bot.ledger.outbox import ListedAlert, MailRow, Outbox, OutboxCounts, OutboxError
from treasury_bot.ledger.records import (CountedRow, IntentRecord, LedgerError, LedgerSchemaNewer,
                                         LedgerSchemaUnknown, OpenStall, QueuedWait, Transition,
                                         WithdrawalRecord)
from treasury_bot.ledger.schema import SCHEMA_VERSION

OPEN_STATUSES = lifecycle.OPEN
OPEN_EXCHANGE_STATUSES = lifecycle.EXCHANGE_OPEN

__all__ = [
    "CountedRow", "ForeignRow", "FreezeRow", "IntentRecord", "Ledger", "LedgerError", "LedgerSchemaNewer", "LedgerSchemaUnknown",
    "ListedAlert", "MailRow", "OPEN_EXCHANGE_STATUSES", "OPEN_STATUSES", "OpenStall", "Outbox",
    "OutboxCounts", "OutboxError", "QueuedWait", "SCHEMA_VERSION", "Transition", "WithdrawalRecord",
]
