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
                                    ReconcileAction, UnknownOutcome, classify_apply_error, exchange_age_ms,
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
    """No exception class of common/binance/errors.py falls through unseen: each is in the table above."""
    from common.binance import errors
    classes = {c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, ExchangeError)}
    covered = {ExchangeError, ClockSkewError, AuthError, RateLimitError, WithdrawRefused, OutcomeUnknown,
               ExchangeUnavailable, BadResponse, ExchangeRequestError, OrderRejected, OrderNotFound}
    assert classes == covered


def test_the_message_is_the_exchanges_text():
    """The verdict keeps the exchange's message for the ledger and the mail."""
    verdict = classify_apply_error(WithdrawRefused("Insufficient balance", binance_code=-4026))
    assert verdict.message == "Insufficient balance"
    assert classify_apply_error(RuntimeError()).message == "RuntimeError"


def state(age=0, since_attempt=0, since=None, attempts=1) -> UnknownOutcome:
    """`age`: exchange-clock age of the first attempt; `since_attempt`: monotonic ms since
    the last apply ended; `since`: unknown_since (wall), for the deadline."""
    return UnknownOutcome(unknown_since=T if since is None else since, attempts=attempts,
                          exchange_age_ms=age, since_attempt_ms=since_attempt)


FOUND = Lookup("w-1", 4, failed=False)
ABSENT = Lookup(None, None, failed=False)
FAILED = Lookup(None, None, failed=True)
MISMATCH = Lookup(None, None, failed=False, mismatch="withdrawal w-9: amount 30 (fee 1) != 25")


@pytest.mark.parametrize("case, st_, lookup, now, expected", [
    ("found adopts at once", state(), FOUND, T, ReconcileAction.ADOPT),
    ("found adopts even when old", state(age=10 * DAY), FOUND, T + 10 * DAY, ReconcileAction.ADOPT),
    ("found adopts even after many attempts", state(attempts=9), FOUND, T + DEADLINE * 2, ReconcileAction.ADOPT),
    ("a found record that is not ours is reviewed", state(), MISMATCH, T, ReconcileAction.NEEDS_REVIEW),
    ("not looked yet waits", state(), None, T, ReconcileAction.WAIT),
    ("not looked yet, deadline passed", state(), None, T + DEADLINE, ReconcileAction.NEEDS_REVIEW),
    ("lookup failed waits", state(), FAILED, T + DEADLINE - 1, ReconcileAction.WAIT),
    ("lookup failed at the deadline", state(), FAILED, T + DEADLINE, ReconcileAction.NEEDS_REVIEW),
    ("deadline counts from unknown_since", state(since=T + 5 * MIN), FAILED, T + DEADLINE, ReconcileAction.WAIT),
    ("absent within grace waits", state(since_attempt=GRACE - 1), ABSENT, T, ReconcileAction.WAIT),
    ("absent at grace resubmits", state(since_attempt=GRACE), ABSENT, T, ReconcileAction.RESUBMIT),
    ("a wall-clock jump does not shorten the grace", state(since_attempt=GRACE - 1), ABSENT, T + 6 * 3_600_000,
     ReconcileAction.WAIT),
    ("absent after grace with attempts left", state(since_attempt=GRACE, attempts=MAX_UNKNOWN_ATTEMPTS - 1),
     ABSENT, T, ReconcileAction.RESUBMIT),
    ("absent after grace, attempts used up", state(since_attempt=GRACE, attempts=MAX_UNKNOWN_ATTEMPTS), ABSENT,
     T, ReconcileAction.NEEDS_REVIEW),
    ("absent within grace, attempts used up still waits",
     state(since_attempt=GRACE - 1, attempts=MAX_UNKNOWN_ATTEMPTS), ABSENT, T, ReconcileAction.WAIT),
    ("absent past the deadline still resubmits", state(since_attempt=GRACE), ABSENT, T + DEADLINE * 3,
     ReconcileAction.RESUBMIT),
    ("6-day window edge minus 1 ms", state(age=LOOKUP_WINDOW_LIMIT_MS - 1, since_attempt=GRACE), ABSENT, T,
     ReconcileAction.RESUBMIT),
    ("6-day window edge", state(age=LOOKUP_WINDOW_LIMIT_MS, since_attempt=GRACE), ABSENT, T,
     ReconcileAction.NEEDS_REVIEW),
    ("6-day window edge, lookup failed", state(age=LOOKUP_WINDOW_LIMIT_MS), FAILED, T,
     ReconcileAction.NEEDS_REVIEW),
])
def test_reconcile_step_table(case, st_, lookup, now, expected):
    """The next step for an unknown outcome at each edge: grace, deadline, window, attempts."""
    action, why = reconcile_step(st_, lookup, now, grace_ms=GRACE, deadline_ms=DEADLINE)
    assert action is expected, case
    assert why


def test_six_days_leaves_a_day_under_binances_seven():
    """The look-up window limit is 6 days: under the 7 days withdraw history allows."""
    assert LOOKUP_WINDOW_LIMIT_MS == 6 * DAY and MAX_UNKNOWN_ATTEMPTS == 3


@pytest.mark.parametrize("offset", [-11 * MIN, 0, 11 * MIN, -3 * 3_600_000, 30 * DAY])
def test_the_age_guard_is_measured_in_the_exchanges_clock(offset):
    """Recorded at the first attempt as host + offset, the age is the exchange's own elapsed
    time, whatever the offset (issue 10, defect 1)."""
    first_host = T
    age = exchange_age_ms(first_exchange_ms=first_host + offset, first_host_ms=first_host,
                          host_now_ms=T + 2 * DAY, offset_now_ms=offset)
    assert age == 2 * DAY


def test_a_host_clock_stepped_back_cannot_make_the_first_attempt_look_younger():
    """Host stepped back a day and the offset re-measured +1 day: the exchange age stands."""
    age = exchange_age_ms(first_exchange_ms=T, first_host_ms=T, host_now_ms=T + 5 * DAY - DAY,
                          offset_now_ms=DAY)
    assert age == 5 * DAY


def test_the_larger_age_wins_so_the_guard_errs_towards_review():
    """An offset that shrank (the host ran ahead, then was corrected) never lowers the age
    below what the host clock says; without a recorded estimate the host age is used."""
    assert exchange_age_ms(first_exchange_ms=T + DAY, first_host_ms=T, host_now_ms=T + 6 * DAY,
                           offset_now_ms=0) == 6 * DAY
    assert exchange_age_ms(first_exchange_ms=None, first_host_ms=T, host_now_ms=T + 3 * DAY,
                           offset_now_ms=9 * DAY) == 3 * DAY


@PROPERTY
@given(age=st.integers(0, 30 * DAY), since_attempt=st.integers(0, 10 * GRACE), attempts=st.integers(1, 5),
       now=st.integers(T, T + 30 * DAY), lookup=st.sampled_from([None, ABSENT, FAILED]))
def test_absence_is_never_proven_for_a_first_attempt_outside_six_exchange_days(
        age, since_attempt, attempts, now, lookup):
    """Whatever the wall clock says, a RESUBMIT ("proven absent") needs the first attempt
    inside the 6 exchange-clock days and a full monotonic grace."""
    action, _ = reconcile_step(state(age=age, since_attempt=since_attempt, since=T, attempts=attempts),
                               lookup, now, grace_ms=GRACE, deadline_ms=DEADLINE)
    if action is ReconcileAction.RESUBMIT:
        assert age < LOOKUP_WINDOW_LIMIT_MS and since_attempt >= GRACE and lookup is ABSENT
