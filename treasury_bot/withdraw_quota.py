"""The exchange's 24-hour withdrawal quota, as the treasury judges it (issue 12 item 4). Pure.

Binance caps what an account may withdraw in any 24 hours, in USD, and tells it through
`GET /sapi/v1/capital/withdraw/quota` (IP weight 10): `wdQuota` the total, `usedWdQuota`
what the past 24 hours used (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota).
The executor reads it before each apply (treasury_bot/quota_guard.py) and this module says:

- whether the intent waits (`hold_for`): only when its amount has a known USDT value (the
  coin is a USD stablecoin, USDT, USDC or FDUSD, valued 1:1) and that value is above the
  remaining quota. The treasury has no price feed: any other coin is let through and the
  exchange decides (a refusal is then the exchange's -4xxx, handled like any other). A
  held intent stays `queued`: the quota refills as the 24 hours roll, so it is retried,
  not rejected;
- when the 80 % alert is due (`after_reading`): once per crossing, not at every reading;
  below 80 % again re-arms it;
- when a hold alert is due (`after_hold`): once per held intent;
- what `treasuryctl status` and `check` print.

What the treasury remembers between readings is a `QuotaNote`, kept as JSON in one ledger
meta key (`META_KEY`), so `treasuryctl status` can show the last reading without calling
the exchange, and a restart does not alert a crossing again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

META_KEY = "withdraw_quota"
USD_STABLECOINS = frozenset({"USDT", "USDC", "FDUSD"})
ALERT_FRACTION = Decimal("0.8")
MAX_HELD_REMEMBERED = 100   # held intents whose alert went out; the oldest are forgotten
ZERO = Decimal(0)


class QuotaError(ValueError):
    """A quota reading that cannot be true (negative, not a number)."""


@dataclass(frozen=True)
class QuotaReading:
    """One reading of the exchange's quota, in USD; `read_at_ms` on the treasury's clock."""

    total: Decimal
    used: Decimal
    read_at_ms: int

    def __post_init__(self) -> None:
        for name in ("total", "used"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise QuotaError(f"withdraw quota {name} must be a non-negative Decimal, not {value!r}")

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.total - self.used)

    @property
    def used_fraction(self) -> Decimal:
        """used / total; a zero quota counts as fully used."""
        if self.total == 0:
            return Decimal(1)
        return self.used / self.total

    @property
    def high(self) -> bool:
        return self.used_fraction >= ALERT_FRACTION

    def percent(self) -> str:
        return f"{self.used_fraction * 100:.1f}%"


def value_in_usdt(coin: str, amount: Decimal) -> Decimal | None:
    """`amount` of `coin` in USD when the treasury knows it without a price: stablecoins 1:1."""
    return amount if coin in USD_STABLECOINS else None


@dataclass(frozen=True)
class Hold:
    """Why an intent is not sent now."""

    value_usdt: Decimal
    remaining: Decimal
    total: Decimal

    def detail(self) -> str:
        return (f"{_plain(self.value_usdt)} USD would exceed the {_plain(self.remaining)} USD left of the "
                f"exchange's 24-hour withdrawal quota ({_plain(self.total)} USD); it waits and is "
                "retried as the quota refills")


def hold_for(reading: QuotaReading | None, coin: str, amount: Decimal) -> Hold | None:
    """A Hold when this withdrawal would certainly go over the quota; None: send it
    (no reading, a coin with no known USD value, or it fits)."""
    if reading is None:
        return None
    value = value_in_usdt(coin, amount)
    if value is None or value <= reading.remaining:
        return None
    return Hold(value_usdt=value, remaining=reading.remaining, total=reading.total)


@dataclass(frozen=True)
class QuotaNote:
    """What the treasury remembers: the last reading, whether the 80 % alert stands, and
    the held intents already alerted."""

    reading: QuotaReading | None = None
    high_alerted: bool = False
    held_alerted: tuple[str, ...] = ()


def after_reading(note: QuotaNote, reading: QuotaReading) -> tuple[QuotaNote, bool]:
    """The new note and whether to raise the 80 % alert now (only on the crossing)."""
    raise_now = reading.high and not note.high_alerted
    return replace(note, reading=reading, high_alerted=reading.high), raise_now


def after_hold(note: QuotaNote, intent_id: str) -> tuple[QuotaNote, bool]:
    """The new note and whether to raise the hold alert for this intent (the first time only)."""
    if intent_id in note.held_alerted:
        return note, False
    held = (note.held_alerted + (intent_id,))[-MAX_HELD_REMEMBERED:]
    return replace(note, held_alerted=held), True


def after_release(note: QuotaNote, intent_id: str) -> QuotaNote:
    """The intent was sent (or left the queue): a later hold of the same id would alert again."""
    if intent_id not in note.held_alerted:
        return note
    return replace(note, held_alerted=tuple(i for i in note.held_alerted if i != intent_id))


def note_to_json(note: QuotaNote) -> str:
    value: dict[str, object] = {"high_alerted": note.high_alerted, "held_alerted": list(note.held_alerted)}
    if note.reading is not None:
        value["reading"] = {"total": str(note.reading.total), "used": str(note.reading.used),
                            "read_at_ms": note.reading.read_at_ms}
    return json.dumps(value, sort_keys=True)


def note_from_json(text: str | None) -> QuotaNote:
    """The saved note; none or unreadable: a fresh one (the worst case is one alert again)."""
    if not text:
        return QuotaNote()
    try:
        value = json.loads(text)
        raw = value.get("reading")
        reading = None if raw is None else QuotaReading(
            total=Decimal(str(raw["total"])), used=Decimal(str(raw["used"])), read_at_ms=int(raw["read_at_ms"]))
        held = tuple(str(i) for i in value.get("held_alerted", ()))
        return QuotaNote(reading=reading, high_alerted=bool(value.get("high_alerted", False)),
                         held_alerted=held[-MAX_HELD_REMEMBERED:])
    except (ValueError, TypeError, KeyError, AttributeError, InvalidOperation):
        return QuotaNote()


def summary(reading: QuotaReading) -> str:
    """`850 of 1000 USD used (85.0%), 150 USD left`."""
    return (f"{_plain(reading.used)} of {_plain(reading.total)} USD used ({reading.percent()}), "
            f"{_plain(reading.remaining)} USD left")


def check_line(reading: QuotaReading) -> tuple[bool | None, str, str]:
    """`treasuryctl check`'s line: OK below 80 %, a warning (None) at or above it."""
    if reading.high:
        return None, "withdraw quota", (summary(reading) + f" in the last 24 h: at or above "
                                        f"{ALERT_FRACTION * 100:.0f}%; stablecoin intents that do not "
                                        "fit wait until it refills")
    return True, "withdraw quota", summary(reading) + " in the last 24 h"


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
