"""What the executor does after a withdraw call (classify_apply_error) and while an outcome
is unknown (reconcile_step, lookup_window). Pure functions, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.binance import (AuthError, BadResponse, ClockSkewError, ExchangeError, ExchangeRequestError,
                            ExchangeUnavailable, OrderNotFound, OrderRejected, OutcomeUnknown, RateLimitError,
                            WithdrawRefused)
from treasury_bot.reconcile import (LOOKUP_WINDOW_LIMIT_MS, MAX_UNKNOWN_ATTEMPTS, ApplyAction, Lookup,
                                    ReconcileAction, UnknownOutcome, classify_apply_error, lookup_window,
                                    reconcile_step)

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

MIN = 60_000
DAY = 86_400_000
T = 1_700_000_000_000
GRACE = 60_000
DEADLINE = 30 * MIN


@pytest.mark.parametrize("error, action, delay, code", [
    (OutcomeUnknown("timeout"), ApplyAction.UNKNOWN, 0.0, "outcome_unknown"),
    (OutcomeUnknown("5xx", http_status=503), ApplyAction.UNKNOWN, 0.0, "http_503"),
    (AuthError("bad key", binance_code=-2015, http_status=401), ApplyAction.HALT, 0.0, "-2015"),
    (AuthError("signature", binance_code=-1022), ApplyAction.HALT, 0.0, "-1022"),
    (AuthError("format", binance_code=-2014), ApplyAction.HALT, 0.0, "-2014"),
    (RateLimitError("429", retry_after=30.0, http_status=429), ApplyAction.REQUEUE, 30.0, "http_429"),
    (RateLimitError("418", retry_after=120.0, http_status=418), ApplyAction.REQUEUE, 120.0, "http_418"),
    (RateLimitError("weight", retry_after=0.0, binance_code=-1003), ApplyAction.REQUEUE, 1.0, "-1003"),
    (RateLimitError("too many", retry_after=0.2, binance_code=-4005), ApplyAction.REQUEUE, 1.0, "-4005"),
    (ClockSkewError("ts", binance_code=-1021), ApplyAction.REQUEUE, 5.0, "-1021"),
    (ExchangeUnavailable("refused"), ApplyAction.REQUEUE, 5.0, "exchange_unavailable"),
    (WithdrawRefused("insufficient", binance_code=-4026), ApplyAction.FAILED, 0.0, "-4026"),
    (WithdrawRefused("below min", binance_code=-4022), ApplyAction.FAILED, 0.0, "-4022"),
    (WithdrawRefused("not multiple", binance_code=-4021), ApplyAction.FAILED, 0.0, "-4021"),
    (WithdrawRefused("over 24h max", binance_code=-4023), ApplyAction.FAILED, 0.0, "-4023"),
    (WithdrawRefused("fee", binance_code=-4028), ApplyAction.FAILED, 0.0, "-4028"),
    (WithdrawRefused("illegal address", binance_code=-4033), ApplyAction.FAILED, 0.0, "-4033"),
    (WithdrawRefused("not whitelisted", binance_code=-4035), ApplyAction.FAILED, 0.0, "-4035"),
    (WithdrawRefused("locked", binance_code=-4036), ApplyAction.FAILED, 0.0, "-4036"),
    (WithdrawRefused("closed", binance_code=-4019), ApplyAction.FAILED, 0.0, "-4019"),
    (ExchangeRequestError("unknown code", binance_code=-9999), ApplyAction.FAILED, 0.0, "-9999"),
    (ExchangeRequestError("bad request", http_status=400), ApplyAction.FAILED, 0.0, "http_400"),
    (OrderRejected("n/a", binance_code=-2010), ApplyAction.FAILED, 0.0, "-2010"),
    (OrderNotFound("n/a", binance_code=-2013), ApplyAction.FAILED, 0.0, "-2013"),
    (BadResponse("odd body"), ApplyAction.FAILED, 0.0, "bad_response"),
    (ExchangeError("generic"), ApplyAction.FAILED, 0.0, "exchange_error"),
    (KeyError("our bug"), ApplyAction.UNKNOWN, 0.0, "internal"),
    (RuntimeError("our bug"), ApplyAction.UNKNOWN, 0.0, "internal"),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None)
def test_each_apply_error_maps_to_its_action(error, action, delay, code):
    """Unknown outcomes reconcile, auth halts, rate limits and skew requeue, refusals fail."""
    verdict = classify_apply_error(error)
    assert (verdict.action, verdict.delay_s, verdict.code) == (action, delay, code)
    assert verdict.message


def test_every_exchange_error_class_of_the_client_is_classified_on_purpose():
    """No exception class of common/binance.py falls through unseen: each is in the table above."""
    import common.binance as binance
    classes = {c for c in vars(binance).values()
               if isinstance(c, type) and issubclass(c, ExchangeError)}
    covered = {ExchangeError, ClockSkewError, AuthError, RateLimitError, WithdrawRefused, OutcomeUnknown,
               ExchangeUnavailable, BadResponse, ExchangeRequestError, OrderRejected, OrderNotFound}
    assert classes == covered


def test_the_message_is_the_exchanges_text():
    """The verdict keeps the exchange's message for the ledger and the mail."""
    verdict = classify_apply_error(WithdrawRefused("Insufficient balance", binance_code=-4026))
    assert verdict.message == "Insufficient balance"
    assert classify_apply_error(RuntimeError()).message == "RuntimeError"


def state(first=T, last=None, since=None, attempts=1) -> UnknownOutcome:
    return UnknownOutcome(first_attempt_at=first, last_attempt_at=first if last is None else last,
                          unknown_since=first if since is None else since, attempts=attempts)


FOUND = Lookup("w-1", 4, failed=False)
ABSENT = Lookup(None, None, failed=False)
FAILED = Lookup(None, None, failed=True)


@pytest.mark.parametrize("case, st_, lookup, now, expected", [
    ("found adopts at once", state(), FOUND, T, ReconcileAction.ADOPT),
    ("found adopts even when old", state(), FOUND, T + 10 * DAY, ReconcileAction.ADOPT),
    ("found adopts even after many attempts", state(attempts=9), FOUND, T + DEADLINE * 2, ReconcileAction.ADOPT),
    ("not looked yet waits", state(), None, T, ReconcileAction.WAIT),
    ("not looked yet, deadline passed", state(), None, T + DEADLINE, ReconcileAction.NEEDS_REVIEW),
    ("lookup failed waits", state(), FAILED, T + DEADLINE - 1, ReconcileAction.WAIT),
    ("lookup failed at the deadline", state(), FAILED, T + DEADLINE, ReconcileAction.NEEDS_REVIEW),
    ("deadline counts from unknown_since", state(since=T + 5 * MIN), FAILED, T + DEADLINE, ReconcileAction.WAIT),
    ("absent within grace waits", state(), ABSENT, T + GRACE - 1, ReconcileAction.WAIT),
    ("absent at grace resubmits", state(), ABSENT, T + GRACE, ReconcileAction.RESUBMIT),
    ("grace counts from the last attempt", state(last=T + 10 * MIN), ABSENT, T + 10 * MIN + GRACE - 1,
     ReconcileAction.WAIT),
    ("absent after grace with attempts left", state(attempts=MAX_UNKNOWN_ATTEMPTS - 1), ABSENT, T + GRACE,
     ReconcileAction.RESUBMIT),
    ("absent after grace, attempts used up", state(attempts=MAX_UNKNOWN_ATTEMPTS), ABSENT, T + GRACE,
     ReconcileAction.NEEDS_REVIEW),
    ("absent within grace, attempts used up still waits", state(attempts=MAX_UNKNOWN_ATTEMPTS), ABSENT,
     T + GRACE - 1, ReconcileAction.WAIT),
    ("absent past the deadline still resubmits", state(), ABSENT, T + DEADLINE * 3, ReconcileAction.RESUBMIT),
    ("6-day window edge minus 1 ms", state(), ABSENT, T + LOOKUP_WINDOW_LIMIT_MS - 1, ReconcileAction.RESUBMIT),
    ("6-day window edge", state(), ABSENT, T + LOOKUP_WINDOW_LIMIT_MS, ReconcileAction.NEEDS_REVIEW),
    ("6-day window edge, lookup failed", state(since=T + 6 * DAY), FAILED, T + LOOKUP_WINDOW_LIMIT_MS,
     ReconcileAction.NEEDS_REVIEW),
    ("window counts from the first attempt", state(last=T + 5 * DAY, since=T + 5 * DAY), ABSENT,
     T + LOOKUP_WINDOW_LIMIT_MS, ReconcileAction.NEEDS_REVIEW),
])
def test_reconcile_step_table(case, st_, lookup, now, expected):
    """The next step for an unknown outcome at each edge: grace, deadline, window, attempts."""
    action, why = reconcile_step(st_, lookup, now, grace_ms=GRACE, deadline_ms=DEADLINE)
    assert action is expected, case
    assert why


def test_six_days_leaves_a_day_under_binances_seven():
    """The look-up window limit is 6 days: under the 7 days withdraw history allows."""
    assert LOOKUP_WINDOW_LIMIT_MS == 6 * DAY and MAX_UNKNOWN_ATTEMPTS == 3


def test_lookup_window_brackets_the_first_attempt_and_now():
    """From 10 minutes before the first attempt to 10 minutes after now."""
    assert lookup_window(state(first=T), T + 5 * MIN) == (T - 10 * MIN, T + 15 * MIN)


@PROPERTY
@given(age=st.integers(0, LOOKUP_WINDOW_LIMIT_MS - 1), since=st.integers(0, LOOKUP_WINDOW_LIMIT_MS - 1),
       attempts=st.integers(1, 5), lookup=st.sampled_from([None, FOUND, ABSENT, FAILED]))
def test_any_lookup_that_can_still_decide_stays_under_seven_days(age, since, attempts, lookup):
    """Whenever reconcile_step may still act on a look-up (not yet needs_review for age), the
    look-up's window is under Binance's 7 days and contains the first attempt and now."""
    first = T
    now = T + age
    st_ = state(first=first, since=first + min(since, age), attempts=attempts)
    action, _ = reconcile_step(st_, lookup, now, grace_ms=GRACE, deadline_ms=DEADLINE)
    start, end = lookup_window(st_, now)
    assert start <= first <= now <= end
    assert end - start < 7 * DAY
    if age >= LOOKUP_WINDOW_LIMIT_MS:
        assert action in (ReconcileAction.ADOPT, ReconcileAction.NEEDS_REVIEW)
