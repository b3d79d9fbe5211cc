"""common/binance/errors.py: the error policy as a pure function of (endpoint, reply), and
what each error cites. The same policy seen through the client: test_binance.py."""

from __future__ import annotations

import pytest
import requests

from common.binance import (GET_ORDER, NEW_ORDER, WITHDRAW_APPLY, WITHDRAW_HISTORY, AuthError,
                            ClockSkewError, ExchangeRequestError, ExchangeUnavailable, OutcomeUnknown,
                            RateLimitError, WithdrawRefused, classify_error)
from common.binance.errors import error_body, transport_error


@pytest.mark.parametrize("endpoint, status, code, kind", [
    (WITHDRAW_APPLY, 503, None, OutcomeUnknown),          # 5XX: execution status unknown
    (WITHDRAW_HISTORY, 503, None, ExchangeUnavailable),   # the same on a read changed nothing
    (WITHDRAW_APPLY, 400, -1008, OutcomeUnknown),         # busy: not documented as "not executed"
    (GET_ORDER, 400, -1008, ExchangeUnavailable),
    (WITHDRAW_APPLY, 400, -4026, WithdrawRefused),
    (WITHDRAW_HISTORY, 400, -4026, ExchangeRequestError),  # -4xxx refuses only a withdrawal
    (NEW_ORDER, 400, -1021, ClockSkewError),
    (NEW_ORDER, 401, -2015, AuthError),
    (NEW_ORDER, 429, -1003, RateLimitError),
])
def test_each_reply_is_classified_by_endpoint_status_and_code(endpoint, status, code, kind):
    """Whether a call changes state decides between 'unknown' and 'unavailable'; codes pick the rest."""
    error = classify_error(endpoint, status, code, "text", None)
    assert type(error) is kind
    assert (error.binance_code, error.http_status, error.endpoint) == (code, status, endpoint.label)


def test_a_rate_limit_waits_as_long_as_retry_after_says():
    """Retry-After is honoured; an unusable one falls back to the documented default."""
    assert classify_error(GET_ORDER, 429, None, "", "12").retry_after == 12.0
    assert classify_error(GET_ORDER, 418, None, "", "soon").retry_after == 120.0


def test_only_a_failed_connect_proves_a_withdrawal_was_never_sent():
    """ConnectTimeout: nothing left this host; a read timeout after sending: outcome unknown."""
    assert type(transport_error(WITHDRAW_APPLY, requests.exceptions.ConnectTimeout())) is ExchangeUnavailable
    assert type(transport_error(WITHDRAW_APPLY, requests.exceptions.ReadTimeout())) is OutcomeUnknown
    assert type(transport_error(WITHDRAW_HISTORY, requests.exceptions.ReadTimeout())) is ExchangeUnavailable


def test_an_error_body_is_read_only_when_it_is_binances_shape():
    """{"code", "msg"} gives both; HTML, bad UTF-8 or another shape gives neither."""
    assert error_body(b'{"code": -4026, "msg": "Insufficient balance"}') == (-4026, "Insufficient balance")
    assert error_body(b"<html>502</html>") == (None, "")
    assert error_body(b"\xff\xfe") == (None, "")


def test_an_error_cites_binances_code_else_the_http_status_else_its_own():
    """cited_code is what the ledger records as the reason of a failed apply."""
    assert WithdrawRefused("x", binance_code=-4026, http_status=400).cited_code == "-4026"
    assert OutcomeUnknown("x", http_status=503).cited_code == "http_503"
    assert ExchangeUnavailable("no connection").cited_code == "exchange_unavailable"
