"""treasuryctl's text, pure: UTC times out, `--since` times in, one intent on one line."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from treasury_bot.ledger import IntentRecord


def utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def parse_since(text: str, now_ms: int) -> int:
    """`24h`, `7d`, `30m`, milliseconds, or an ISO date/time (UTC if no zone)."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match:
        unit = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[match.group(2)]
        return now_ms - int(match.group(1)) * unit
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since: {text!r} is not like 24h, 7d, an ISO time or milliseconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def percent(used, cap) -> str:
    return f"{(used * 100 / cap):.0f}%" if cap else "-"


def intent_line(record: IntentRecord) -> str:
    return (f"{record.intent_id:<36} {record.status:<17} {record.amount:>14} {record.coin:<6} "
            f"-> {record.destination:<20} {record.client:<12} {record.reason_code or '':<24} "
            f"{utc(record.updated_at)}")
