"""The executor's last look before an apply (issue 12): a queued intent whose destination
the exchange's address book no longer holds is not sent.

It was decided when the book held it (rule 7, `not_in_address_book`); the book may have
lost the entry since. Sending would spend an apply (900 UID weight) on a certain -4035, so
the intent ends `failed` (queued -> failed by the executor: the move `destination_changed`
already makes; nothing was sent, and a failed intent gives its amount back to the window)
with a CRITICAL `withdrawal_failed` naming `not_in_address_book`, as the exchange's own
refusal would have. The reading is the one the treasury saved last
(treasury_bot/destination_watch.py); none saved (no address book was ever read by this
ledger's treasury) leaves the decision's check as the only one.
"""

from __future__ import annotations

from common.logs import get_logger
from treasury_bot import lifecycle
from treasury_bot.address_book import missing_reason
from treasury_bot.alerts import raised
from treasury_bot.destination_watch import saved_reading
from treasury_bot.ledger import IntentRecord, Ledger
from treasury_bot.policy_model import Policy

log = get_logger("treasury.executor")
CODE = "not_in_address_book"


def unlisted_reason(ledger: Ledger, policy: Policy, record: IntentRecord) -> str | None:
    """Why the saved address book does not hold this intent's destination, or None."""
    reading = saved_reading(ledger)
    destination = policy.destination(record.destination)
    if reading is None or reading.fetched_at_ms is None or destination is None:
        return None  # never read: the decision refused it already; gone: destination_changed
    return missing_reason(destination, reading.entries)


def fail_if_unlisted(ledger: Ledger, policy: Policy, record: IntentRecord, now: int) -> bool:
    """Fail the queued intent (True) when its destination left the address book."""
    why = unlisted_reason(ledger, policy, record)
    if why is None:
        return False
    with ledger.transaction():
        current = ledger.get_intent_by_seq(record.seq)
        if current is None or current.status != lifecycle.QUEUED:
            return True  # an operator acted meanwhile: nothing to send either way
        ledger.update_withdrawal(record.seq, error_code=CODE, error_message=why, finished_at=now)
        ledger.set_status(current, lifecycle.FAILED, now, lifecycle.EXECUTOR, f"not sent: {CODE}")
        ledger.enqueue(raised.withdrawal_failed(current, CODE, why, now))
    log.error("withdrawal_refused_not_in_address_book", intent_id=record.intent_id, detail=why)
    return True
