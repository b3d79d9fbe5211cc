"""What an intent gets when it may not reach the decider (pure; docs/design.md section 9, issue 10 defect 6).

The server asks, per intent in arrival order, whether the ledger's disk has room and the
client's budget has room (`DiskGuard`, `RequestBudget`); an intent refused by either is
answered here, in this order:
1. a replay of a decided intent_id always gets its decision as it stands (rule 1): under
   the budget it still goes to the decider, which answers it without writing; on a low
   disk it is answered from the record here (a conflict would journal a row, so it is not);
2. on a ledger disk low in space, a new intent gets `error`/`internal`: retry it later;
3. over its client's budget, `rejected`/`client_rate_limited`, not journaled.
"""

from __future__ import annotations

from common import messages
from treasury_bot import lifecycle
from treasury_bot.batch_plan import Incoming, is_conflict, replay_or_conflict
from treasury_bot.disk_guard import DiskState
from treasury_bot.ledger import IntentRecord
from treasury_bot.verdict import REJECTED

CLIENT_RATE_LIMITED = "client_rate_limited"


def refusal(incoming: Incoming, prior: IntentRecord | None, disk: DiskState,
            limit: int) -> messages.Struct | None:
    """The reply to an intent not admitted (`disk` low, or over its budget of `limit` a
    minute), or None when it goes to the decider after all (a replay, the disk fine)."""
    if prior is not None:
        if not disk.low:
            return None
        reply = replay_or_conflict(prior, incoming.client, incoming.intent)
        if not is_conflict(reply):
            return reply
    if disk.low:
        return messages.Error(code="internal", detail=f"the ledger's disk is low ({disk.free_mb} MB free); "
                                                      "retry the same intent later")
    return messages.Decision(
        intent_id=incoming.intent.intent_id, outcome=REJECTED, reason_code=CLIENT_RATE_LIMITED,
        detail=f"client {incoming.client} is over its budget of {limit} requests per minute",
        status=lifecycle.DENIED)
