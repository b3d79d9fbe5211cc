"""The demo that `make demo` runs: the whole system on one machine, against the sandbox.

- `demo.prepare`: generate `var/` (CURVE keys, env files, the demo policy and configs),
  idempotently; the e2e test uses it too, pointed at a temp dir.
- `demo.var_texts`: the texts of those files (env files, the demo policy, the signal
  bot's config), pure functions of the ports.
- `demo.run`: what `make demo` runs: prepare, then supervisord in the foreground.
- `demo.prefix`: the tiny wrapper supervisord runs each program through (name prefix on
  every line, start after the ports it needs accept connections).
- `demo.feeder`: posts the demo's signals to the signal bot's webhook, then exits.
- `demo.smtp_sink`: a local SMTP server (aiosmtpd) that prints every mail it receives.
- `demo.story`: recognises the demo's milestones in the log (what `make demo` checks off).
"""
