"""What every treasuryctl command shares: the ledger and policy its env file names, its
exit codes, and its error line."""

from __future__ import annotations

import sys

from common.config import load_treasury_settings
from treasury_bot.app import open_ledger
from treasury_bot.policy_file import load_policy_for

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def ledger_and_policy(args, need_policy: bool = False):
    """Open the ledger the env file in `args` names; load its policy file too when asked."""
    settings = load_treasury_settings(args.env_file)
    policy = load_policy_for(settings.policy_file, settings.base_url).policy if need_policy else None
    return open_ledger(settings.ledger_path), policy, settings


def error_line(text: str) -> None:
    """One write for the text and its newline: `print` writes them apart, and a log line
    from another thread landing between them garbles the refusal code scripts read."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
