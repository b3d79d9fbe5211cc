"""`treasuryctl`: the operator's tool. It works on the ledger directly and is safe to run
while the treasury runs (every change is one short `BEGIN IMMEDIATE` transaction).

One job per module:

- `cli`      the arguments and the dispatch to a command (`main`, the console script);
- `site`     what each command shares: the ledger and policy, exit codes, the error line;
- `text`     pure: UTC times, `--since`, one intent on one line;
- `check`    `check`: one OK/FAIL line per thing the treasury needs;
- `reports`  the read-only commands: `status`, `list`, `show`, `alerts list`;
- `actions`  the commands that change something: `keys generate`, `approve`, `reject`,
             `resolve`, `alerts test`;
- `journal`  the journal's hash chain: `verify`, `export`, `backup`.
- `operators` issue 13 item 3: `operators add|list`, signed `approve|reject --operator`,
             `unfreeze`, and `--remote` (the operator wire's client).

`main` is re-exported here, and `console_main` (SIGPIPE as a Unix tool) which pyproject's
`treasuryctl = "treasury_bot.ctl:console_main"` names.
"""

from treasury_bot.ctl.cli import console_main, main

__all__ = ["console_main", "main"]
