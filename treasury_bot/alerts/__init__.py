"""Alerts over email (docs/design.md section 6): a durable outbox in the ledger, digests, SMTP.

How the treasury uses it:
- the outbox's tables are part of the ledger's schema (treasury_bot/ledger/schema.py);
- at each change worth telling: inside that change's transaction,
  `ledger.enqueue(raised.<kind>(...))` (or `events.<kind>(...)`);
- at start: `sender.AlertSender(ledger_path, settings.smtp).start()`, and `.stop()` at exit;
- `treasuryctl alerts list|test`: `ctl.outbox_lines(ledger, ...)`, `transport.send_test_mail(smtp)`;
  `treasuryctl status` shows `ledger.outbox.counts()`; the view `alert_delivery` gives each
  alert's state (unsent | sending | sent), channel and sent time.

The modules, one job each: `model` (the Alert and its kinds), `events` and `raised` (build
alerts), `digest` (which alerts make which mail), `formats` and `wording` (the words),
`render` (the mail), `pacing` (send order and backoff, pure), `transport` (SMTP),
`drain` (one pass over the outbox), `sender` (the thread), `ctl` (what treasuryctl prints).

Nothing is imported here: the sender and the CLI import the ledger, which imports
`alerts.model`, so importing them from this package's start would be circular.
"""
