"""Decimal money: the wire's amount grammar, one canonical spelling, arithmetic that never
rounds silently, and exchange step arithmetic."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import money
from common.money import AmountError, canonical, floor_to_step, is_multiple, parse_amount


PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

@pytest.mark.parametrize("text, value", [
    ("1", Decimal(1)), ("100.5", Decimal("100.5")), ("20.000", Decimal(20)), ("007", Decimal(7)),
    ("0.000000000000000001", Decimal("1E-18")), ("1." + "0" * 17 + "1", Decimal("1.000000000000000001")),
])
def test_parse_amount_accepts_plain_positive_decimals(text, value):
    """Digits with an optional 1-18 digit fraction, above zero, parse to their exact value."""
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", [
    "NaN", "nan", "Infinity", "inf", "-1", "+1", "1e5", "1E5", " 1", "1 ", "1.", ".5", "0", "0.000",
    "1." + "1" * 19, "", "1,5", "1\n", "\n1", "0x10", "١", "1_000",
])
def test_parse_amount_refuses_anything_else(text):
    """Signs, exponents, spaces, special values, zero and 19 decimals are AmountErrors."""
    with pytest.raises(AmountError):
        parse_amount(text)


@pytest.mark.parametrize("value", [1.5, 1, None, b"1", Decimal("1")])
def test_parse_amount_takes_only_strings(value):
    """Floats, ints, bytes and even Decimals are refused: amounts travel as text."""
    with pytest.raises(AmountError):
        parse_amount(value)  # type: ignore[arg-type]


def test_amount_error_is_a_value_error():
    """msgspec turns a ValueError in __post_init__ into a validation error; AmountError is one."""
    assert issubclass(AmountError, ValueError)


@pytest.mark.parametrize("value, text", [
    (Decimal("20.000"), "20"), (Decimal("20"), "20"), (Decimal("1E+2"), "100"), (Decimal("0.10"), "0.1"),
    (Decimal("0E-5"), "0"), (Decimal("1E-18"), "0.000000000000000001"), (Decimal("100.5"), "100.5"),
    (Decimal("1000"), "1000"),
])
def test_canonical_has_no_exponent_and_no_trailing_zeros(value, text):
    """One spelling per value: "20.000" and "2E+1" are both "20"; integer zeros are kept."""
    assert canonical(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_canonical_refuses_non_finite_values(value):
    """NaN and infinities have no money spelling."""
    with pytest.raises(AmountError):
        canonical(value)


@PROPERTY
@given(st.decimals(min_value=Decimal("1E-18"), max_value=Decimal("1E+30"), places=18, allow_nan=False,
                   allow_infinity=False))
def test_canonical_is_a_parseable_exact_spelling(value):
    """canonical(x) parses back to x, and canonical of that is itself."""
    if value <= 0:
        return
    text = canonical(value)
    assert parse_amount(text) == value
    assert canonical(Decimal(text)) == text


def test_sums_of_wire_amounts_are_exact():
    """Adding 18-decimal amounts with 40 integer digits loses nothing."""
    big = Decimal("9" * 40 + "." + "9" * 18)
    tiny = Decimal("0.000000000000000001")
    assert money.add(big, tiny) == Decimal("1" + "0" * 40)
    assert money.subtract(money.add(big, tiny), tiny) == big
    assert money.total([Decimal("0.1")] * 10) == Decimal(1)
    assert money.total([]) == 0


def test_an_inexact_result_raises_instead_of_rounding():
    """Past 80 significant digits the context traps Inexact rather than round a sum."""
    with pytest.raises(decimal.Inexact):
        money.add(Decimal("1E+80"), Decimal("1E-18"))


def test_the_money_context_traps_invalid_and_division_by_zero():
    """An invalid operation (inf - inf, signalling NaN) and division by zero raise."""
    with pytest.raises(decimal.InvalidOperation):
        money.subtract(Decimal("Infinity"), Decimal("Infinity"))
    with pytest.raises(decimal.InvalidOperation):
        money.add(Decimal("sNaN"), Decimal(1))
    with pytest.raises(decimal.DivisionByZero):
        money.MONEY_CONTEXT.divide(Decimal(1), Decimal(0))


@pytest.mark.parametrize("amount, step, expected", [
    (Decimal("10"), Decimal("1"), True), (Decimal("10.5"), Decimal("1"), False),
    (Decimal("0.3"), Decimal("0.1"), True), (Decimal("0.35"), Decimal("0.1"), False),
    (Decimal("7"), Decimal("0"), True), (Decimal("1.000001"), Decimal("0.000001"), True),
    (Decimal("1.0000001"), Decimal("0.000001"), False), (Decimal("100"), Decimal("25"), True),
])
def test_is_multiple_of_a_step(amount, step, expected):
    """A whole number of steps passes; a step of 0 allows anything."""
    assert is_multiple(amount, step) is expected


@pytest.mark.parametrize("amount, step, expected", [
    (Decimal("10.57"), Decimal("0.1"), Decimal("10.5")), (Decimal("10"), Decimal("3"), Decimal("9")),
    (Decimal("0.0999"), Decimal("0.1"), Decimal("0")), (Decimal("5.5"), Decimal("0"), Decimal("5.5")),
    (Decimal("1.23456789"), Decimal("0.00001"), Decimal("1.23456")),
])
def test_floor_to_step_rounds_down(amount, step, expected):
    """Rounds down to a whole number of steps, never up; a step of 0 leaves the amount."""
    assert floor_to_step(amount, step) == expected


@PROPERTY
@given(st.decimals(min_value=0, max_value=10**9, places=8),
       st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.00001"), Decimal("0.25"), Decimal("5")]))
def test_floor_to_step_is_the_largest_multiple_not_above(amount, step):
    """The result is a multiple, at most the amount, and less than one step below it."""
    floored = floor_to_step(amount, step)
    assert is_multiple(floored, step)
    assert floored <= amount < floored + step


def test_is_multiple_stays_exact_past_the_context_precision():
    """A 64-digit amount over a 1e-18 step: an exact answer, not an InvalidOperation."""
    from common.money import is_multiple
    huge = Decimal("9" * 45 + "." + "1" * 18)
    assert is_multiple(huge, Decimal("0.000000000000000001"))
    assert not is_multiple(huge, Decimal("0.01"))
