"""What `treasuryctl alerts ...` prints; the lead's CLI wires these to its arguments.

- `treasuryctl alerts list [--unsent]` -> `outbox_lines(ledger, unsent_only=...)`
- `treasuryctl alerts test`            -> `sender.send_test_mail(settings.smtp)`
"""

from __future__ import annotations

from treasury_bot.alerts import render
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
    lines += render.listing_lines(rows) or ["  (none)"]
    lines.append(f"{totals.unsent} alert(s) unsent, {totals.sending_mails} mail(s) waiting for the server")
    return lines
