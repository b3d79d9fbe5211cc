"""sandbox/address_book.py through the in-process app (issue 12): the address list as Binance
documents it, the account's whitelist switch (-4035), the admin API that edits both, and
-4106 for a tag on a network that takes none."""

from __future__ import annotations

import json

import pytest

from tests.support.sandbox_app_cases import GOOD, TREASURY, Harness

HOT = "TSandboxDemoHotWa11etAddress111111"
UNLISTED = "TSandboxDemoNotListedAddress111111"


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_the_address_list_has_binances_documented_fields_from_the_config(h):
    """GET /sapi/v1/capital/withdraw/address/list: every documented field, addressTag "" when none."""
    book = h.ok("GET", "/sapi/v1/capital/withdraw/address/list", TREASURY)
    cold = next(e for e in book if e["address"] == GOOD)
    assert cold == {"address": GOOD, "addressTag": "", "coin": "USDT", "name": "demo cold wallet",
                    "network": "TRX", "origin": "", "originType": "others", "whiteStatus": True}
    assert {e["address"] for e in book} >= {GOOD, HOT}


def test_the_address_list_takes_no_parameters_and_costs_ten_ip_weight(h):
    """An unknown parameter is -1104; the reply reports the sapi IP weight used (10)."""
    reply = h.call("GET", "/sapi/v1/capital/withdraw/address/list", TREASURY)
    assert reply.status == 200 and reply.headers["X-SAPI-USED-IP-WEIGHT-1M"] == "10"
    assert h.error("GET", "/sapi/v1/capital/withdraw/address/list", TREASURY, coin="USDT") == -1104


def test_the_admin_api_replaces_the_entries_at_run_time(h):
    """POST /sandbox/address-book {"entries": [...]} is what the next list answers."""
    status, view = h.admin("POST", "/sandbox/address-book", {"entries": [
        {"address": HOT, "coin": "USDT", "network": "TRX", "name": "only hot"}]})
    assert status == 200 and [e["address"] for e in view["entries"]] == [HOT]
    book = h.ok("GET", "/sapi/v1/capital/withdraw/address/list", TREASURY)
    assert [(e["address"], e["name"], e["whiteStatus"]) for e in book] == [(HOT, "only hot", True)]
    assert h.admin("GET", "/sandbox/address-book")[1]["whitelist_enabled"] is False


def test_a_bad_admin_body_changes_nothing(h):
    """An unknown field is a 400 naming it; the book stays as it was."""
    status, body = h.admin("POST", "/sandbox/address-book", {"entries": [
        {"address": HOT, "coin": "USDT", "network": "TRX", "colour": "red"}]})
    assert status == 400 and "colour" in body["error"]
    assert len(h.ok("GET", "/sapi/v1/capital/withdraw/address/list", TREASURY)) == 5


def test_with_the_whitelist_on_only_whitelisted_entries_may_be_withdrawn_to(h):
    """Switch on: an address with no entry, or an entry with whiteStatus false, is -4035."""
    h.admin("POST", "/sandbox/address-book", {"whitelist_enabled": True, "entries": [
        {"address": GOOD, "coin": "USDT", "network": "TRX"},
        {"address": HOT, "coin": "USDT", "network": "TRX", "white_status": False}]})
    assert h.withdraw(order_id="ok").status == 200
    assert json.loads(h.withdraw(address=HOT, order_id="grey").body)["code"] == -4035
    refused = json.loads(h.withdraw(address=UNLISTED, order_id="none").body)
    assert refused == {"code": -4035, "msg": "This address is not on the whitelist. Please join and try again."}


def test_with_the_whitelist_off_the_book_does_not_limit_withdrawals(h):
    """Switch off (the default): an address outside the book is withdrawn to, as Binance does."""
    assert h.withdraw(address=UNLISTED).status == 200


def test_a_tag_on_a_network_that_takes_none_is_4106(h):
    """USDT on TRX has no memoRegex: an addressTag there is -4106, and nothing is booked."""
    reply = h.withdraw(addressTag="12345")
    assert (reply.status, json.loads(reply.body)["code"]) == (400, -4106)
    assert h.admin("GET", "/sandbox/withdrawals")[1]["withdrawals"] == []
