"""The one step that ends a withdrawal the exchange reports finished.

The executor (catching up on what reconciliation found) and the poller (following the
exchange's history) both end withdrawals; this is the single place that does it, so the
two cannot drift apart again (issue 11: they once used different terminal sets). Call it
inside the caller's transaction: the status, the withdrawal's end marks and the alert
commit together or not at all.
"""

from __future__ import annotations

from treasury_bot import lifecycle
from treasury_bot.alerts import raised
from treasury_bot.ledger import IntentRecord, Ledger

# The exchange's free-text reason is kept, bounded: it is shown, never parsed.
MAX_INFO_CHARS = 500


def finish_withdrawal(ledger: Ledger, record: IntentRecord, end: str, at: int, source: str,
                      note: str, *, withdrawal_id: str | None, tx_id: str | None,
                      info: str | None) -> None:
    """Move `record` (as read in this transaction) to `end`, one of
    `lifecycle.WITHDRAWAL_ENDS`; stamp `finished_at`, keep the exchange's reason
    (`info`) and enqueue the `withdrawal_finished` alert. The move itself is checked by
    the ledger (`lifecycle.IllegalTransition` for a source that may not make it)."""
    if end not in lifecycle.WITHDRAWAL_ENDS:
        raise ValueError(f"{end!r} does not end a withdrawal")
    fields: dict[str, object] = {"finished_at": at}
    if info:
        fields["error_message"] = info[:MAX_INFO_CHARS]
    ledger.update_withdrawal(record.seq, **fields)
    ledger.set_status(record, end, at, source, note)
    ledger.enqueue(raised.withdrawal_finished(record, end, at, withdrawal_id=withdrawal_id,
                                              tx_id=tx_id, info=info))
