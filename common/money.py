"""Decimal money: strict parsing of wire amounts and arithmetic that never rounds silently."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

# The wire's amount grammar (docs/design.md section 2): digits, an optional 1-18 digit fraction.
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]{1,18})?\Z"  # \Z: $ would admit a final newline
_AMOUNT_RE = re.compile(AMOUNT_PATTERN)

# Sums of amounts with up to 18 decimals and up to 40 integer digits are exact at this
# precision; Inexact is trapped so that an impossible rounding raises instead of lying.
MONEY_CONTEXT = decimal.Context(
    prec=80,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)


class AmountError(ValueError):
    """An amount string that is not a positive, finite, plain decimal."""


def parse_amount(text: str) -> Decimal:
    """Parse a wire amount: plain digits with at most 18 decimals, strictly positive."""
    if not isinstance(text, str) or not _AMOUNT_RE.match(text):
        raise AmountError("amount must be a decimal string like \"100.5\" (no sign, exponent or spaces)")
    value = Decimal(text)
    if value <= 0:
        raise AmountError("amount must be greater than zero")
    return value


def canonical(value: Decimal) -> str:
    """The one spelling of a decimal: no exponent, no trailing zeros ("20.000" -> "20")."""
    if not value.is_finite():
        raise AmountError("amount must be finite")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def add(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.add(a, b)


def subtract(a: Decimal, b: Decimal) -> Decimal:
    return MONEY_CONTEXT.subtract(a, b)


def total(values) -> Decimal:
    result = Decimal(0)
    for value in values:
        result = MONEY_CONTEXT.add(result, value)
    return result


def is_multiple(amount: Decimal, step: Decimal) -> bool:
    """True when amount is a whole number of steps (a step of 0 allows anything).

    Exact for any finite values: integer arithmetic on the two fractions, where a
    Decimal remainder would fail once amount / step passes the context's 80 digits."""
    if step == 0:
        return True
    a_num, a_den = amount.as_integer_ratio()
    s_num, s_den = step.as_integer_ratio()
    return (a_num * s_den) % (a_den * s_num) == 0


def floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    """Round down to a whole number of steps (exchange LOT_SIZE / tickSize semantics)."""
    if step == 0:
        return amount
    steps = MONEY_CONTEXT.divide_int(amount, step)
    return MONEY_CONTEXT.multiply(steps, step)
