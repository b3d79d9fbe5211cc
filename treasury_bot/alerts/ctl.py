"""What `treasuryctl alerts ...` prints; the lead's CLI wires these to its arguments.

- `treasuryctl alerts list [--unsent]` -> `outbox_lines(ledger, unsent_only=...)`
- `treasuryctl alerts test`            -> `smtp.send_test_mail(settings.smtp)`
"""

from __future__ import annotations

from common.logs import scrub
from treasury_bot.alerts.formats import iso_utc
from treasury_bot.alerts.wording import summary
from treasury_bot.ledger import Ledger


def outbox_lines(ledger: Ledger, *, unsent_only: bool = False, limit: int = 50) -> list[str]:
    """The outbox as lines: a header, one line per alert, and a count of what is unsent.

    All: the newest `limit` alerts, newest first. `unsent_only`: the oldest `limit`
    alerts not yet accepted by the mail server, oldest first.
    """
    rows = ledger.outbox.listing(unsent_only=unsent_only, limit=limit)
    totals = ledger.outbox.counts()
    what = "unsent alerts, oldest first" if unsent_only else "latest alerts, newest first"
    lines = [f"alert outbox: {what} (at most {limit})"]
    lines += listing_lines(rows) or ["  (none)"]
    lines.append(f"{totals.unsent} alert(s) unsent, {totals.sending_mails} mail(s) waiting for the server")
    return lines


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
