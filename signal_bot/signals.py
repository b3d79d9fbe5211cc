"""The one validated `Signal` every feed produces, and its strict parsing (pure).

A signal is a JSON object (TradingView-alert style). Amounts are decimal strings, never
JSON numbers, so that no float ever touches money. `side`, `type` and `time_in_force`
are taken case-insensitively ("buy" from `{{strategy.order.action}}` is BUY). The `id` is
any printable text up to 64 characters; Binance's `newClientOrderId` is derived from it
(`client_order_id`, signal_bot/signal_ids.py). Issue 15 item 4 appends
`take_profit`/`stop_loss` (a price or a percentage of the fill, both or neither: the
entry's OCO exit, signal_bot/exits.py) and `action` `close` with `closes` (the entry it
closes at market; no amount).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, Mapping

import msgspec
from msgspec import Meta, Struct

from common.money import AMOUNT_PATTERN, AmountError, parse_amount
from signal_bot import signal_ids

# Printable text, 1 to 64 characters (checked in __post_init__: signal_ids.id_problem).
SignalId = Annotated[str, Meta(min_length=1, max_length=64)]
Symbol = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}\Z")]
AmountText = Annotated[str, Meta(pattern=AMOUNT_PATTERN, max_length=64)]
Side = Literal["BUY", "SELL"]
OrderType = Literal["MARKET", "LIMIT"]
TimeInForce = Literal["GTC", "IOC", "FOK"]
# Issue 15 item 4: an exit level is a price ("61000") or a percentage of the fill ("2%").
ExitLevel = Annotated[str, Meta(pattern=r"^[0-9]{1,20}(\.[0-9]{1,18})?%?\Z")]
Action = Literal["open", "close"]

# Fields read case-insensitively: enum-like words, never ids or symbols.
_UPPERCASED = ("side", "type", "time_in_force")
_LOWERCASED = ("action",)
# A webhook's authentication field: removed before a signal is parsed or logged.
PASSPHRASE_FIELD = "passphrase"


class SignalError(ValueError):
    """A signal the schema refuses; `field` names the offending key (or None for the whole)."""

    code = "invalid_signal"

    def __init__(self, field: str | None, detail: str) -> None:
        super().__init__(f"{field}: {detail}" if field else detail)
        self.field = field
        self.detail = detail


class Signal(Struct, frozen=True, forbid_unknown_fields=True):
    id: SignalId
    symbol: Symbol
    side: Side
    type: OrderType
    quantity: AmountText | None = None
    quote_amount: AmountText | None = None
    price: AmountText | None = None
    time_in_force: TimeInForce | None = None
    # Issue 15 item 4 (appended): exits, and a close of an earlier entry (signal_bot/exits.py).
    take_profit: ExitLevel | None = None
    stop_loss: ExitLevel | None = None
    action: Action = "open"
    closes: SignalId | None = None     # action "close": the id of the entry it closes

    def __post_init__(self) -> None:
        if self.action == "close":
            _check_close(self)
            return
        # Cross-field rules; the message ends like msgspec's so `parse_signal` can name the field.
        problem = signal_ids.id_problem(self.id)
        if problem:
            raise ValueError(f"{problem} - at `$.id`")
        for name in ("quantity", "quote_amount", "price"):
            text = getattr(self, name)
            if text is not None:
                try:
                    parse_amount(text)
                except AmountError as exc:
                    raise ValueError(f"{exc} - at `$.{name}`") from None
        if (self.quantity is None) == (self.quote_amount is None):
            raise ValueError("give exactly one of quantity or quote_amount - at `$.quantity`")
        if self.type == "LIMIT":
            if self.quote_amount is not None:
                raise ValueError("quote_amount is only for MARKET orders - at `$.quote_amount`")
            if self.price is None:
                raise ValueError("a LIMIT signal needs a price - at `$.price`")
        else:
            if self.price is not None:
                raise ValueError("a MARKET signal takes no price - at `$.price`")
            if self.time_in_force is not None:
                raise ValueError("time_in_force is only for LIMIT orders - at `$.time_in_force`")

        if (self.take_profit is None) != (self.stop_loss is None):
            raise ValueError("give both take_profit and stop_loss, or neither - at `$.take_profit`")
        for name in ("take_profit", "stop_loss"):
            level = getattr(self, name)
            if level is not None and Decimal(level.rstrip("%")) <= 0:
                raise ValueError(f"{name} must be above zero - at `$.{name}`")
        if self.closes is not None:
            raise ValueError("closes is only for action close - at `$.closes`")

    @property
    def client_order_id(self) -> str:
        """Binance's newClientOrderId for this signal, and its journal key (signal_ids.py)."""
        return signal_ids.client_order_id(self.id)

    @property
    def quantity_value(self) -> Decimal | None:
        return None if self.quantity is None else Decimal(self.quantity)

    @property
    def quote_value(self) -> Decimal | None:
        return None if self.quote_amount is None else Decimal(self.quote_amount)

    @property
    def price_value(self) -> Decimal | None:
        return None if self.price is None else Decimal(self.price)


def _check_close(signal: "Signal") -> None:
    """A close names its entry; it exits at market with the entry's quantity, so it carries none."""
    if signal.closes is None:
        raise ValueError("a close signal names the entry it closes - at `$.closes`")
    if signal.type != "MARKET":
        raise ValueError("a close exits at market - at `$.type`")
    for name in ("quantity", "quote_amount", "price", "time_in_force", "take_profit", "stop_loss"):
        if getattr(signal, name) is not None:
            raise ValueError(f"a close signal takes no {name} - at `$.{name}`")


def parse_signal(fields: Mapping[str, Any]) -> Signal:
    """Validate one decoded JSON object (passphrase already removed) or raise SignalError."""
    if not isinstance(fields, Mapping):
        raise SignalError(None, "a signal must be a JSON object")
    data = dict(fields)
    data.pop(PASSPHRASE_FIELD, None)
    for name in _UPPERCASED:
        # ASCII only: str.upper() maps "\u017fell" (long s) to "SELL" and "l\u0131m\u0131t"
        # (dotless i) to "LIMIT"; such words stay as sent and are refused.
        if isinstance(data.get(name), str) and data[name].isascii():
            data[name] = data[name].upper()
    for name in _LOWERCASED:
        if isinstance(data.get(name), str) and data[name].isascii():
            data[name] = data[name].lower()
    try:
        return msgspec.convert(data, Signal)
    except msgspec.ValidationError as exc:
        raise _named(str(exc)) from None


def decode_json_object(body: bytes | str) -> dict[str, Any]:
    """Decode JSON text that must be one object; raise SignalError(None, ...) otherwise."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise SignalError(None, f"body is not valid JSON ({_short(str(exc))})") from None
    # msgspec raises these, not DecodeError: bytes that are not UTF-8, and nesting past
    # the recursion limit (a 64 KiB body of "[[[[...") - a bad body all the same.
    except UnicodeDecodeError:
        raise SignalError(None, "body is not valid JSON (not UTF-8 text)") from None
    except RecursionError:
        raise SignalError(None, "body is not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise SignalError(None, "body must be a JSON object")
    return value


def _named(message: str) -> SignalError:
    """Turn msgspec's "... - at `$.field`" (or "Object missing required field `x`") into a field."""
    marker = " - at `$."
    if marker in message:
        text, _, rest = message.partition(marker)
        field = rest.rstrip("`").split("`")[0].split("[")[0].split(".")[0]
        return SignalError(field, _short(text))
    for lead in ("Object missing required field `", "Object contains unknown field `"):
        if message.startswith(lead):
            field = message[len(lead):].split("`")[0]
            return SignalError(field, _short(message))
    return SignalError(None, _short(message))


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
