"""Key hygiene as checks (issue 16 item 2). Pure: no I/O, no clock of its own.

From GET /sapi/v1/account/apiRestrictions (weight 1;
https://developers.binance.com/docs/wallet/account/api-key-permission): `createTime`, when
the key was created (ms), and `tradingAuthorityExpirationTime` where present (ms; the time
a key's spot and margin trading right expires, on keys without an IP restriction). A key
older than `rotate_after_days` (default 90: rotate withdraw-enabled keys every 90 days at
least) or whose trading right expires within 14 days gets a warning, never a refusal.

Used by `treasuryctl check`, `signal-bot check` and the weekly `key_hygiene` alert
(treasury_bot/key_hygiene_watch.py). The IP restriction itself is audited elsewhere
(treasury_bot/audit.py refuses, signal_bot/audit.py warns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

DEFAULT_ROTATE_AFTER_DAYS = 90
EXPIRY_WARNING_DAYS = 14
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS

KEY_OLD = "key_older_than_rotation"
KEY_EXPIRING = "key_expires_soon"
CODES = (KEY_OLD, KEY_EXPIRING)


@dataclass(frozen=True)
class KeyHygieneWarning:
    code: str      # one of CODES
    detail: str    # for an operator; names the field it comes from, never the key


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_hygiene(restrictions: Any, now_ms: int, rotate_after_days: int = DEFAULT_ROTATE_AFTER_DAYS,
                *, who: str = "the key") -> list[KeyHygieneWarning]:
    """The warnings for one key's apiRestrictions at `now_ms` (exchange time)."""
    if rotate_after_days < 1:
        raise ValueError("rotate_after_days must be at least 1")
    out: list[KeyHygieneWarning] = []
    created = getattr(restrictions, "create_time", None)
    if created:
        age_days = (now_ms - created) // DAY_MS
        if now_ms - created > rotate_after_days * DAY_MS:
            out.append(KeyHygieneWarning(
                KEY_OLD, f"{who} was created {age_days} days ago ({iso_utc(created)}, createTime), more than "
                         f"rotate_after_days = {rotate_after_days}: rotate it (docs/deployment.md, Key rotation)"))
    expires = getattr(restrictions, "trading_authority_expiration_time", None)
    if expires and expires - now_ms <= EXPIRY_WARNING_DAYS * DAY_MS:
        when = "expired" if expires <= now_ms else "expires"
        out.append(KeyHygieneWarning(
            KEY_EXPIRING, f"{who}'s trading right {when} at {iso_utc(expires)} (tradingAuthorityExpirationTime), "
                          f"within {EXPIRY_WARNING_DAYS} days: restrict it to this host's IP or rotate it"))
    return out


def age_line(restrictions: Any, now_ms: int) -> str:
    """The OK line's detail: how old the key is (or that the exchange did not say)."""
    created = getattr(restrictions, "create_time", None)
    if not created:
        return "createTime not reported"
    return f"created {(now_ms - created) // DAY_MS} days ago ({iso_utc(created)})"


def weekly_due(last_sent_ms: int | None, now_ms: int) -> bool:
    """The weekly alert: due when never sent, or a week after the last one (durable: the
    caller keeps `last_sent_ms` in its ledger or state file, across restarts)."""
    return last_sent_ms is None or now_ms - last_sent_ms >= WEEK_MS
