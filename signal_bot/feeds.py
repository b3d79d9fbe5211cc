"""Feed profiles: the body shapes the webhook takes, mapped onto the one `Signal` (pure).

`[feed]` in signal.toml picks a profile (signal_bot/config_file.py `Feed`):

- `native`: today's JSON fields, amounts as strings (signal_bot/signals.py);
- `tradingview`: a TradingView alert message
  (https://www.tradingview.com/support/solutions/43000529348 , placeholders such as
  `{{strategy.order.action}}`, `{{ticker}}`, `{{strategy.order.contracts}}`, `{{close}}`,
  `{{timenow}}`): `action` -> side, `ticker` (with or without `BINANCE:`) -> symbol,
  `contracts` -> quantity, `price` (`{{close}}`) -> a LIMIT price, `timenow` + `max_lag`;
- `mapped`: a declarative `[feed.mapping]` (signal field = body field, dotted paths
  reach into objects), e.g. 3Commas' signal-bot JSON
  (https://help.3commas.io/en/articles/9374557-signal-bot-json-file-for-strategy-type:
  `secret`, `max_lag`, `timestamp`, `tv_instrument`, `action`, `order.amount`).

Whatever the profile, a body that starts with a letter (TradingView sends a message
that is not JSON as `text/plain`) is read as one command line: `buy BTCUSDT quote=100 passphrase=...`.
In the tradingview and mapped profiles JSON numbers are taken as their exact text (never
a float): `"price": {{close}}` works. A signal field that is not mapped passes through
under its own name (e.g. another feature's `take_profit`). A refusal names the field as
the body spelled it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from signal_bot.signals import PASSPHRASE_FIELD, Signal, SignalError, decode_json_object, parse_signal

SIGNAL_FIELDS = ("id", "symbol", "side", "type", "quantity", "quote_amount", "price", "time_in_force")
# Mapped-only fields: the signal's time and the largest lag allowed against it.
TIME_FIELD, MAX_LAG_FIELD = "time", "max_lag"
MAPPABLE = SIGNAL_FIELDS + (PASSPHRASE_FIELD, TIME_FIELD, MAX_LAG_FIELD)

TRADINGVIEW_MAPPING: dict[str, str] = {
    "id": "id", "symbol": "ticker", "side": "action", "type": "type", "quantity": "contracts",
    "quote_amount": "quote_amount", "price": "price", "time_in_force": "time_in_force",
    "passphrase": "passphrase", "time": "timenow", "max_lag": "max_lag"}
# Exchange prefixes of a ticker that name this exchange ("BINANCE:BTCUSDT").
OUR_EXCHANGES = ("BINANCE",)
# The words of a text command and the signal field each sets.
TEXT_KEYS = {"id": "id", "type": "type", "qty": "quantity", "quantity": "quantity", "contracts": "quantity",
             "quote": "quote_amount", "quote_amount": "quote_amount", "price": "price",
             "tif": "time_in_force", "time_in_force": "time_in_force", "passphrase": PASSPHRASE_FIELD,
             "time": TIME_FIELD, "max_lag": MAX_LAG_FIELD}


@dataclass(frozen=True)
class Profile:
    """How one feed's bodies become signal fields (built from `[feed]`: config_file.Feed.profile_rules)."""

    name: str = "native"
    mapping: Mapping[str, str] = field(default_factory=dict)   # signal field -> body path
    sides: Mapping[str, str] = field(default_factory=dict)     # extra side words, lower case
    ignore_unknown: bool = False
    max_lag_seconds: int | None = None                         # when the body names none
    dedupe_window_seconds: int = 60


NATIVE = Profile()


@dataclass(frozen=True)
class Fields:
    """A body read by its profile: the signal's fields, the passphrase, how each field was spelled."""

    fields: dict[str, Any]
    passphrase: Any
    spelled: dict[str, str]          # signal field -> the body's name for it
    text: bool = False


def read_body(body: bytes, profile: Profile) -> Fields:
    """JSON object or text command -> signal fields (not yet validated); SignalError(None) if unreadable."""
    if _is_text_command(body):
        return _text_command(body)
    if profile.name == "native":
        fields = decode_json_object(body)
        return Fields(fields, fields.pop(PASSPHRASE_FIELD, None), {})
    return _mapped(_decode_exact(body), profile)


# JSON's bare words: a body that is one of them is JSON (not an object: refused as such),
# never a text command (found by tests/fuzz/test_webhook_bodies.py: `null` read as a command).
_JSON_WORDS = (b"null", b"true", b"false")


def _is_text_command(body: bytes) -> bool:
    """A command starts with a word; JSON starts with a bracket, a quote, a digit, a sign, or is
    one of its bare words."""
    stripped = body.strip()
    return stripped[:1].isalpha() and stripped not in _JSON_WORDS


def _decode_exact(body: bytes) -> dict[str, Any]:
    """JSON with numbers kept as their text (`{{close}}` unquoted is 27123.5: "27123.5")."""
    try:
        value = json.loads(body.decode("utf-8"), parse_float=str, parse_int=str,
                           parse_constant=lambda name: name)
    except UnicodeDecodeError:
        raise SignalError(None, "body is not valid JSON (not UTF-8 text)") from None
    except (ValueError, RecursionError) as exc:
        raise SignalError(None, f"body is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(value, dict):
        raise SignalError(None, "body must be a JSON object")
    return value


def _path(fields: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    value: Any = fields
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _mapped(body: dict[str, Any], profile: Profile) -> Fields:
    mapping = dict(TRADINGVIEW_MAPPING) if profile.name == "tradingview" else dict(profile.mapping)
    out: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    used_tops: set[str] = set()
    for target, path in mapping.items():
        spelled[target] = path          # a refusal of `target` names the body's field
        found, value = _path(body, path)
        if found:
            out[target] = value
            used_tops.add(path.split(".")[0])
    schema_fields = set(Signal.__struct_fields__)      # grows with the schema (e.g. exits' fields)
    for key, value in body.items():
        if key in used_tops:
            continue
        if key in mapping and mapping[key] != key:
            raise SignalError(key, f"not a field of the {profile.name} profile (it reads {mapping[key]})")
        if key in schema_fields or key in MAPPABLE or not profile.ignore_unknown:
            out[key] = value            # passes through; an unknown one is refused by the schema, named
    passphrase = out.pop(PASSPHRASE_FIELD, None)
    if "side" in out and isinstance(out["side"], str):
        word = out["side"].strip().lower()
        out["side"] = profile.sides.get(word, word)
    if "symbol" in out and isinstance(out["symbol"], str):
        out["symbol"] = _ticker(out["symbol"], spelled.get("symbol", "symbol"))
    if "type" not in out or out["type"] in (None, ""):
        out["type"] = "LIMIT" if out.get("price") not in (None, "") else "MARKET"
    return Fields(out, passphrase, spelled)


def _ticker(text: str, name: str) -> str:
    """`BINANCE:BTCUSDT` or `BTCUSDT` -> BTCUSDT; another exchange's prefix is refused."""
    prefix, sep, symbol = text.strip().rpartition(":")
    if sep and prefix.upper() not in OUR_EXCHANGES:
        raise SignalError(name, f"ticker of exchange {prefix[:20]!r}, not one of {', '.join(OUR_EXCHANGES)}")
    return symbol.upper()


def _text_command(body: bytes) -> Fields:
    """`buy BTCUSDT quote=100 [price=.. type=limit id=.. passphrase=..]`: one line of words."""
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SignalError(None, "body is neither JSON nor UTF-8 text") from None
    if not text:
        raise SignalError(None, "body is empty")
    if "\n" in text or "\r" in text:
        raise SignalError(None, "a text command is one line")
    words = text.split()
    # Words are never echoed in a refusal (one may be the passphrase, misplaced): keys and positions only.
    if len(words) < 2 or "=" in words[0] or "=" in words[1]:
        raise SignalError("side", "a text command starts with buy or sell and a symbol: buy BTCUSDT quote=100")
    if words[0].lower() not in ("buy", "sell"):
        raise SignalError("side", "a text command starts with buy or sell")
    out: dict[str, Any] = {"side": words[0], "symbol": _ticker(words[1], "symbol")}
    spelled: dict[str, str] = {}
    for position, word in enumerate(words[2:], start=3):
        key, sep, value = word.partition("=")
        target = TEXT_KEYS.get(key.lower()) if sep else None
        if target is None:
            if sep and key in Signal.__struct_fields__:     # any other field of the schema
                target = key
            else:
                name = key[:40] if sep else f"word {position}"
                raise SignalError(name, f"not a key=value of a text command ({', '.join(sorted(TEXT_KEYS))})")
        if target in out:
            raise SignalError(key, "given twice")
        out[target] = value
        spelled[target] = key
    passphrase = out.pop(PASSPHRASE_FIELD, None)
    if "type" not in out:
        out["type"] = "LIMIT" if "price" in out else "MARKET"
    return Fields(out, passphrase, spelled, text=True)


def parse_time(text: Any, name: str) -> int:
    """An ISO-8601 UTC time (`2019-08-27T09:56:00Z`, TradingView's {{timenow}}) -> epoch ms."""
    if not isinstance(text, str) or len(text) > 40:
        raise SignalError(name, "a time is ISO-8601 text, e.g. 2019-08-27T09:56:00Z")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SignalError(name, "a time is ISO-8601 text, e.g. 2019-08-27T09:56:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _seconds(value: Any, name: str) -> int:
    try:
        seconds = Decimal(str(value))
    except InvalidOperation:
        seconds = Decimal(-1)
    if not seconds.is_finite() or seconds <= 0 or seconds > 86_400:
        raise SignalError(name, "max_lag is a number of seconds, 1 to 86400")
    return int(seconds)


def check_lag(fields: dict[str, Any], spelled: Mapping[str, str], profile: Profile, now_ms: int) -> None:
    """Refuse a signal whose time is older (or later) than its max_lag allows; removes both fields."""
    time_name = spelled.get(TIME_FIELD, TIME_FIELD)
    lag_name = spelled.get(MAX_LAG_FIELD, MAX_LAG_FIELD)
    when = fields.pop(TIME_FIELD, None)
    lag_value = fields.pop(MAX_LAG_FIELD, None)
    if lag_value not in (None, ""):
        max_lag = _seconds(lag_value, lag_name)
        if when in (None, ""):
            raise SignalError(time_name, f"max_lag {max_lag} s needs the signal's time")
    elif when in (None, ""):
        return                            # no time, no lag to judge
    else:
        max_lag = profile.max_lag_seconds  # [feed] max_lag_seconds: for a time without a max_lag
    if max_lag is None:
        parse_time(when, time_name)       # still a time
        return
    lag_ms = now_ms - parse_time(when, time_name)
    if abs(lag_ms) > max_lag * 1000:
        where = "old" if lag_ms > 0 else "in the future"
        raise SignalError(time_name, f"signal is {abs(lag_ms) // 1000} s {where}, over max_lag {max_lag} s")


def to_signal(read: Fields, profile: Profile, now_ms: int, id_for: Any) -> Signal:
    """Validate read fields into a Signal; `id_for(fields)` gives the id of a body without one."""
    fields = dict(read.fields)
    check_lag(fields, read.spelled, profile, now_ms)
    if fields.get("id") in (None, ""):
        fields.pop("id", None)
        fields["id"] = id_for(fields)
    try:
        return parse_signal(fields)
    except SignalError as exc:
        raise SignalError(read.spelled.get(exc.field or "", exc.field), exc.detail) from None
