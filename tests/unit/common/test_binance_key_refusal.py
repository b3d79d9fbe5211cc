"""common/binance/key_refusal.py and AuthError.cause: Binance's key refusals, as its error
list documents them (https://developers.binance.com/docs/wallet/error-code), classified by
the client from `responses` replies and told apart with the apiRestrictions follow-up."""

from __future__ import annotations

import pytest
import responses

from common.binance import ApiRestrictions, AuthError, BinanceClient, ExchangeUnavailable
from common.binance import key_refusal as kr
from common.binance.errors import (CAUSE_KEY_FORMAT_INVALID, CAUSE_KEY_INVALID_OR_DELETED,
                                   CAUSE_KEY_REFUSED, CAUSE_SIGNATURE_REJECTED)
from common.clock import FakeClock
from tests.support.binance_cases import API_KEY, API_SECRET, BASE, NOW_MS, withdraw

# Binance's documented messages for each code.
DOCUMENTED = {
    -1002: "You are not authorized to execute this request.",
    -1022: "Signature for this request is not valid.",
    -2008: "Invalid Api-Key ID.",
    -2014: "API-key format invalid.",
    -2015: "Invalid API-key, IP, or permissions for action.",
}
# GET /sapi/v1/account/apiRestrictions, the documented example with withdrawals on
# (https://developers.binance.com/docs/wallet/account/api-key-permission).
RIGHTS = dict(ip_restrict=True, create_time=1698645219000, enable_reading=True, enable_withdrawals=True,
              enable_spot_and_margin_trading=False)


@pytest.fixture
def client() -> BinanceClient:
    return BinanceClient(BASE, API_KEY, API_SECRET, clock=FakeClock(now_ms=NOW_MS))


def refused_apply(client: BinanceClient, code: int, http_status: int = 401) -> AuthError:
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=http_status,
                  json={"code": code, "msg": DOCUMENTED[code]})
        with pytest.raises(AuthError) as caught:
            withdraw(client)
    return caught.value


@pytest.mark.parametrize("code, cause", [
    (-1022, CAUSE_SIGNATURE_REJECTED), (-2014, CAUSE_KEY_FORMAT_INVALID),
    (-2008, CAUSE_KEY_INVALID_OR_DELETED), (-2015, CAUSE_KEY_REFUSED), (-1002, CAUSE_KEY_REFUSED),
])
def test_each_documented_key_refusal_is_an_auth_error_with_its_stable_cause(client, code, cause):
    """Every key refusal Binance documents is an AuthError (halt, not an unknown outcome) with the code's cause."""
    error = refused_apply(client, code)
    assert (error.code, error.binance_code, error.cause) == ("auth", code, cause)


def test_a_bare_401_is_a_key_refusal_too(client):
    """A 401 without a Binance body is refused-key, the same ambiguous cause as -2015."""
    with responses.RequestsMock() as mock:
        mock.post(f"{BASE}/sapi/v1/capital/withdraw/apply", status=401, body="")
        with pytest.raises(AuthError) as caught:
            withdraw(client)
    assert caught.value.cause == CAUSE_KEY_REFUSED


def test_the_follow_up_read_reaches_apirestrictions_and_decodes_it(client):
    """The follow-up the executor makes: apiRestrictions as documented, decoded into ApiRestrictions."""
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", json={
            "ipRestrict": True, "createTime": 1698645219000, "enableReading": True,
            "enableWithdrawals": False, "enableInternalTransfer": False, "enableMargin": False,
            "enableFutures": False, "permitsUniversalTransfer": False, "enableVanillaOptions": False,
            "enableFixApiTrade": False, "enableFixReadOnly": True, "enableSpotAndMarginTrading": False,
            "enablePortfolioMarginTrading": True})
        rights = client.api_restrictions()
    assert kr.diagnose_apply(AuthError(DOCUMENTED[-2015], binance_code=-2015), rights).cause \
        == kr.CAUSE_KEY_LACKS_WITHDRAW_PERMISSION


def refusal(code: int = -2015, message: str | None = None) -> AuthError:
    return AuthError(message or DOCUMENTED[code], binance_code=code, http_status=401)


def test_apirestrictions_answering_without_withdrawals_means_the_key_lacks_withdraw_permission():
    """The follow-up answers: the key exists and the IP is allowed, so enableWithdrawals=false is the cause."""
    found = kr.diagnose_apply(refusal(), ApiRestrictions(**{**RIGHTS, "enable_withdrawals": False}))
    assert found.cause == kr.CAUSE_KEY_LACKS_WITHDRAW_PERMISSION
    assert "Enable Withdrawals" in found.fix and "no withdraw permission" in found.what


def test_apirestrictions_refused_too_names_both_deleted_key_and_ip_not_allowed():
    """The follow-up is refused with -2015 too: Binance does not say which, so both are named."""
    found = kr.diagnose_apply(refusal(), refusal())
    assert found.cause == kr.CAUSE_KEY_DELETED_OR_IP_NOT_ALLOWED
    assert "deleted or expired" in found.what and "IP allow-list" in found.what
    assert "TREASURY_API_KEY" in found.fix and "TREASURY_API_SECRET" in found.fix


def test_a_follow_up_answering_2008_says_the_key_does_not_exist():
    """-2008 on the follow-up: no such key."""
    found = kr.diagnose_apply(refusal(), refusal(-2008))
    assert found.cause == CAUSE_KEY_INVALID_OR_DELETED and "create a new" in found.fix


def test_withdrawals_enabled_on_a_key_without_ip_restriction_cannot_work():
    """Binance enables withdrawals only with an IP restriction: ipRestrict false is the cause."""
    found = kr.diagnose_apply(refusal(), ApiRestrictions(**{**RIGHTS, "ip_restrict": False}))
    assert found.cause == kr.CAUSE_KEY_NOT_IP_RESTRICTED and "restrict this key" in found.fix


def test_rights_that_look_right_or_an_unreadable_follow_up_leave_every_possibility_named():
    """No follow-up, an unreadable one, or rights that look fine: key_refused, every cause in plain words."""
    for follow_up in (None, ExchangeUnavailable("down"), ApiRestrictions(**RIGHTS)):
        found = kr.diagnose_apply(refusal(-1002), follow_up)
        assert found.cause == CAUSE_KEY_REFUSED, follow_up
        assert "-1002" in found.what and "API Management" in found.fix


@pytest.mark.parametrize("code, cause, words", [
    (-1022, CAUSE_SIGNATURE_REJECTED, "TREASURY_API_SECRET"),
    (-2014, CAUSE_KEY_FORMAT_INVALID, "TREASURY_API_KEY"),
    (-2008, CAUSE_KEY_INVALID_OR_DELETED, "create a new IP-restricted key"),
])
def test_codes_with_one_meaning_need_no_follow_up(code, cause, words):
    """-1022, -2014 and -2008 name their cause themselves, whatever the follow-up said."""
    found = kr.diagnose_apply(refusal(code), ApiRestrictions(**RIGHTS))
    assert found.cause == cause and words in found.fix


def test_a_refused_read_is_a_deleted_key_or_an_ip_not_allowed_and_names_the_bots_own_env():
    """A signed read needs no extra permission: -2015 there is a gone key or a refused IP."""
    found = kr.diagnose_read(refusal(), key_env="SIGNAL_API_KEY")
    assert found.cause == kr.CAUSE_KEY_DELETED_OR_IP_NOT_ALLOWED
    assert "SIGNAL_API_KEY" in found.fix and "SIGNAL_API_SECRET" in found.fix


def test_the_request_ip_some_replies_carry_is_quoted():
    """Binance sometimes appends ", request ip: A.B.C.D": the address is quoted for the operator."""
    found = kr.diagnose_read(refusal(message=DOCUMENTED[-2015][:-1] + ", request ip: 203.0.113.9"))
    assert "Binance saw the request come from 203.0.113.9" in found.what
