"""Request parameters the way Binance reads them (pure functions).

- GET parameters come from the query string; POST parameters from the query string and
  the `application/x-www-form-urlencoded` body, mixed as the client likes. A name sent in
  both places takes the query string's value (documented). A name repeated within one
  place is -1101.
- Numbers are plain decimals (`^([0-9]{1,20})(\\.[0-9]{1,20})?$`), as Binance's
  "legal range" message says; anything else is -1100.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Iterable, Mapping
from urllib.parse import parse_qsl

from sandbox import errors
from sandbox.signing import percent_encode_non_ascii

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?\Z")
_INTEGER = re.compile(r"^[0-9]{1,19}\Z")


def _parse_one(raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    text = percent_encode_non_ascii(raw).decode("ascii")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise errors.ApiError(-1100, "Illegal characters found in a parameter.") from None
    values: dict[str, str] = {}
    for name, value in pairs:
        if name in values:
            raise errors.duplicate_parameter()
        values[name] = value
    return values


def parse_params(raw_query: bytes, raw_body: bytes = b"") -> dict[str, str]:
    """All parameters of a request; the query string wins over the body."""
    merged = _parse_one(raw_body)
    merged.update(_parse_one(raw_query))
    return merged


def reject_unknown(params: Mapping[str, str], allowed: Iterable[str]) -> None:
    """-1104 when a parameter the endpoint does not read was sent (a misspelling, say)."""
    known = set(allowed)
    read = sum(1 for name in params if name in known)
    if read != len(params):
        raise errors.unread_parameters(read, len(params))


def optional(params: Mapping[str, str], name: str) -> str | None:
    """A parameter's value, or None when absent or empty."""
    value = params.get(name)
    return value if value else None


def required(params: Mapping[str, str], name: str) -> str:
    value = optional(params, name)
    if value is None:
        raise errors.mandatory(name)
    return value


def parse_decimal(name: str, text: str) -> Decimal:
    if not _DECIMAL.match(text):
        raise errors.illegal_chars(name, DECIMAL_RANGE)
    return Decimal(text)


def optional_decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    value = optional(params, name)
    return None if value is None else parse_decimal(name, value)


def optional_int(params: Mapping[str, str], name: str) -> int | None:
    value = optional(params, name)
    if value is None:
        return None
    if not _INTEGER.match(value):
        raise errors.illegal_chars(name, "^[0-9]{1,19}$")
    return int(value)
