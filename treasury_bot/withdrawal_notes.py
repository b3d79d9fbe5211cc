"""Why withdrawals are halted (issue 10, defect 3): one meta key, `executor_halted`, for
`treasuryctl status`; set on an auth error, cleared on a fresh start and on an apply that
succeeds. (The executor's other notes, the first apply's exchange time and the stalls
already alerted, are ledger tables: treasury_bot/ledger/withdrawals.py.)
"""

from __future__ import annotations

import json
from typing import Any

from treasury_bot.ledger import Ledger

HALTED_META_KEY = "executor_halted"


def set_halted(ledger: Ledger, reason: str, at: int, diagnosis: Any = None) -> None:
    """`diagnosis`: a common.binance.key_refusal.KeyDiagnosis when the key was refused; its
    cause, plain words and fix are kept for `treasuryctl status` and `check` (issue 12)."""
    value: dict[str, Any] = {"reason": reason, "at": at}
    if diagnosis is not None:
        value.update(cause=diagnosis.cause, what=diagnosis.what, fix=diagnosis.fix)
    ledger.set_meta(HALTED_META_KEY, json.dumps(value))


def halt_advice(ledger: Ledger) -> tuple[str, str, str] | None:
    """(cause, what, fix) of a halt on a refused key, if one stands and was diagnosed."""
    text = ledger.get_meta(HALTED_META_KEY)
    try:
        value = json.loads(text) if text else None
        return (str(value["cause"]), str(value["what"]), str(value["fix"])) if value else None
    except (ValueError, KeyError, TypeError):
        return None


def clear_halted(ledger: Ledger) -> None:
    ledger.delete_meta(HALTED_META_KEY)


def halted(ledger: Ledger) -> tuple[str, int] | None:
    """(reason, at) when withdrawals are halted, else None."""
    text = ledger.get_meta(HALTED_META_KEY)
    if text is None:
        return None
    try:
        value = json.loads(text)
        return str(value["reason"]), int(value["at"])
    except (ValueError, KeyError, TypeError):
        return text, 0
