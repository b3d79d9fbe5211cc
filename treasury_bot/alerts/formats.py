"""Small pure formatters for alert text: UTC times, short addresses, one-line text, amounts.

Shared by the wording of each kind (`wording.py`), the mails (`render.py`), the CLI's
listing (`ctl.py`) and the sender's error lines; other modules use `iso_utc` too.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Mapping

from common.logs import scrub
from treasury_bot.alerts.model import FactValue

_VALUE_MAX = 600

# Short words for the withdraw codes docs/design.md section 4 lists (and the auth codes).
EXCHANGE_CODE_TEXT: Mapping[int, str] = {
    -4026: "insufficient balance",
    -4022: "below the exchange minimum",
    -4021: "not a multiple of the step",
    -4023: "over the 24h maximum",
    -4028: "amount not above the fee",
    -4033: "illegal address",
    -4035: "address not on the exchange whitelist",
    -4036: "new address still locked",
    -4019: "withdrawals closed for the asset",
    -1022: "signature rejected",
    -2014: "API key format invalid",
    -2015: "invalid API key, IP or permissions",
}


def iso_utc(ms: int) -> str:
    """Milliseconds since the epoch as `2026-05-09T12:00:01.123Z`."""
    seconds, millis = divmod(int(ms), 1000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


def short_address(address: str) -> str:
    """First 6 and last 4 characters: enough to recognise, short enough to read."""
    return address if len(address) <= 13 else f"{address[:6]}...{address[-4:]}"


def one_line(value: object, limit: int = _VALUE_MAX) -> str:
    """Text on one line: control characters (CR, LF, ...) become spaces, long text is cut."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def amount(facts: Mapping[str, FactValue], key: str = "amount") -> str:
    """An amount fact with the alert's coin (`250 USDT`); `?` when the fact is absent."""
    value = facts.get(key)
    coin = facts.get("coin")
    if value is None:
        return "?"
    return f"{value} {coin}" if coin else str(value)


def transfer(facts: Mapping[str, FactValue]) -> str:
    """`250 USDT to cold-wallet`."""
    return f"{amount(facts)} to {facts.get('destination') or '?'}"


def exchange_error(facts: Mapping[str, FactValue]) -> str:
    """The exchange's code and a few words for it (`-4026 insufficient balance`)."""
    code = facts.get("exchange_code")
    message = facts.get("exchange_message")
    if isinstance(code, int):
        text = EXCHANGE_CODE_TEXT.get(code) or (one_line(message, 60) if message else "")
        return f"{code} {text}".strip()
    return one_line(message or facts.get("detail") or "", 60)


def describe_error(exc: BaseException) -> str:
    """An exception as one short line for logs, the ledger and the CLI (secrets scrubbed)."""
    return scrub(one_line(f"{type(exc).__name__}: {exc}", 300))
