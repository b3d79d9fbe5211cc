"""Alerts over email (DESIGN section 6): a durable outbox in the ledger, digests, SMTP.

How the treasury uses it:
- at ledger open: run `OUTBOX_SCHEMA` (or `store.create_schema(conn)`);
- at each change worth telling: inside that change's transaction,
  `enqueue(conn, events.<kind>(...))`;
- at start: `AlertSender(ledger_path, settings.smtp).start()`, and `.stop()` at exit;
- `treasuryctl alerts list|test`: `outbox_lines(conn, ...)`, `send_test_mail(smtp)`;
  `treasuryctl status` may show `store.counts(conn)`; the view `alert_delivery` gives each
  alert's state (unsent | sending | sent), channel and sent time.
"""

from treasury_bot.alerts import events
from treasury_bot.alerts.ctl import outbox_lines
from treasury_bot.alerts.model import CRITICAL, INFO, KINDS, WARNING, Alert, severity_of
from treasury_bot.alerts.sender import AlertSender, send_test_mail
from treasury_bot.alerts.store import OUTBOX_SCHEMA, OUTBOX_STATEMENTS, enqueue

__all__ = [
    "Alert", "AlertSender", "CRITICAL", "INFO", "KINDS", "OUTBOX_SCHEMA", "OUTBOX_STATEMENTS",
    "WARNING", "enqueue", "events", "outbox_lines", "send_test_mail", "severity_of",
]
