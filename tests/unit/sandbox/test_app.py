"""sandbox/app.py: the whole request pipeline in process, with a hand-driven clock."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from sandbox.config import default_config_path, parse_config
from tests.support.sandbox_app_cases import SIGNAL, TREASURY, GOOD, T0, Harness

FAILING = "TSandboxDemoFai1sAddress1111111111"


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_server_time_follows_the_admin_clock_offset(h):
    """/api/v3/time is the sandbox clock: wall time plus the admin offset."""
    assert h.ok("GET", "/api/v3/time") == {"serverTime": T0}
    h.admin("POST", "/sandbox/clock", {"offset_ms": 5000})
    assert h.ok("GET", "/api/v3/time") == {"serverTime": T0 + 5000}


def test_clock_offset_applies_to_timestamp_validation(h):
    """With the sandbox 10 s ahead, a request stamped with wall time is -1021."""
    h.admin("POST", "/sandbox/clock", {"advance_ms": 10_000})
    assert h.error("GET", "/api/v3/account", SIGNAL, timestamp=T0) == -1021
    assert h.ok("GET", "/api/v3/account", SIGNAL, timestamp=T0 + 10_000)["canTrade"] is True


def test_exchange_info_for_one_several_or_unknown_symbols(h):
    """symbol=, symbols=[...] select; an unknown symbol is -1121."""
    assert [s["symbol"] for s in h.ok("GET", "/api/v3/exchangeInfo", symbol="ETHUSDT")["symbols"]] == ["ETHUSDT"]
    chosen = h.ok("GET", "/api/v3/exchangeInfo", symbols='["BTCUSDT","BNBUSDT"]')["symbols"]
    assert [s["symbol"] for s in chosen] == ["BTCUSDT", "BNBUSDT"]
    assert h.error("GET", "/api/v3/exchangeInfo", symbol="DOGEUSDT") == -1121
    filters = {f["filterType"]: f for f in chosen[0]["filters"]}
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"


def test_avg_price_answers_binance_shape_and_unknown_symbol_is_1121(h):
    """avgPrice returns mins, price as a string and closeTime; an unknown symbol is -1121."""
    reply = h.ok("GET", "/api/v3/avgPrice", symbol="BTCUSDT")
    assert reply["mins"] == 5 and Decimal(reply["price"]) > 0 and isinstance(reply["closeTime"], int)
    assert h.error("GET", "/api/v3/avgPrice", symbol="DOGEUSDT") == -1121


def test_unknown_path_is_404_and_wrong_method_405(h):
    """Endpoints the sandbox does not serve are refused, not guessed."""
    assert h.call("GET", "/api/v3/depth").status == 404
    assert h.call("PUT", "/api/v3/order").status == 405


def test_market_order_full_response_and_balances(h):
    """A MARKET BUY answers FULL with a fill and moves the shared account's balances."""
    order = h.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                 quantity="0.01", newClientOrderId="sig-1")
    assert (order["status"], order["executedQty"], order["cummulativeQuoteQty"]) == \
        ("FILLED", "0.01000000", "600.00000000")
    assert order["fills"][0]["price"] == "60000.00000000"
    assert h.free("USDT") == Decimal("99400") and h.free("BTC") == Decimal("1.01")
    again = h.ok("GET", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="sig-1")
    assert again["orderId"] == order["orderId"] and again["status"] == "FILLED"


@pytest.mark.parametrize("resp_type, keys", [
    ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
    ("RESULT", {"status", "executedQty", "origQuoteOrderQty", "workingTime"}),
])
def test_response_types(h, resp_type, keys):
    """newOrderRespType ACK and RESULT have Binance's shapes (no fills)."""
    body = h.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                quantity="0.001", newOrderRespType=resp_type)
    assert keys <= set(body) and "fills" not in body


def test_unknown_order_is_2013(h):
    """Querying an order that does not exist: -2013 "Order does not exist."."""
    assert h.error("GET", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="nope") == -2013


def test_duplicate_client_order_id_of_an_open_order_is_refused_but_filled_ones_are_reusable(h):
    """Binance: the same newClientOrderId is accepted again only once the earlier order is no longer open."""
    resting = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001",
                   price="50000", newClientOrderId="rest-1")
    h.ok("POST", "/api/v3/order", SIGNAL, **resting)
    assert h.error("POST", "/api/v3/order", SIGNAL, **resting) == -2010
    filled = dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="mkt-1")
    h.ok("POST", "/api/v3/order", SIGNAL, **filled)
    h.ok("POST", "/api/v3/order", SIGNAL, **filled)


RESTING = dict(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
               price="50000", newClientOrderId="rest-c")


def test_open_orders_lists_a_resting_order_and_cancel_gives_its_locked_funds_back(h):
    """DELETE /api/v3/order cancels an open order (CANCELED, funds unlocked); it leaves openOrders."""
    h.ok("POST", "/api/v3/order", SIGNAL, **RESTING)
    assert h.free("USDT") == Decimal("99500")
    listed = h.ok("GET", "/api/v3/openOrders", SIGNAL, symbol="BTCUSDT")
    assert [(o["clientOrderId"], o["status"]) for o in listed] == [("rest-c", "NEW")]
    used = [int(h.call("GET", "/api/v3/openOrders", SIGNAL, **by).headers["X-MBX-USED-WEIGHT-1M"])
            for by in ({"symbol": "BTCUSDT"}, {})]
    assert used[1] - used[0] == 80, "one symbol weighs 6, all symbols 80 (Binance's weights)"
    cancelled = h.ok("DELETE", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="rest-c")
    assert (cancelled["status"], cancelled["origClientOrderId"]) == ("CANCELED", "rest-c")
    assert h.free("USDT") == Decimal("100000")
    assert h.ok("GET", "/api/v3/openOrders", SIGNAL) == []
    assert h.ok("GET", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="rest-c")["status"] == "CANCELED"


def test_cancelling_an_unknown_or_filled_order_is_2011_and_changes_nothing(h):
    """Binance answers -2011 "Unknown order sent." for an order that is gone or no longer open."""
    assert h.error("DELETE", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="nope") == -2011
    h.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01",
         newClientOrderId="done-1")
    before = h.free("USDT")
    assert h.error("DELETE", "/api/v3/order", SIGNAL, symbol="BTCUSDT", origClientOrderId="done-1") == -2011
    assert h.free("USDT") == before
    assert h.error("DELETE", "/api/v3/order", SIGNAL, symbol="BTCUSDT") == -1102


def test_my_trades_lists_fills_with_binance_fields_and_honours_limit(h):
    """GET /api/v3/myTrades: each fill with id, orderId, price, qty, quoteQty, commission, isBuyer."""
    for n in range(3):
        h.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    trades = h.ok("GET", "/api/v3/myTrades", SIGNAL, symbol="BTCUSDT")
    assert len(trades) == 3 and [t["id"] for t in trades] == sorted(t["id"] for t in trades)
    first = trades[0]
    assert (first["price"], first["qty"], first["quoteQty"], first["isBuyer"], first["isMaker"]) == \
        ("60000.00000000", "0.01000000", "600.00000000", True, False)
    assert len(h.ok("GET", "/api/v3/myTrades", SIGNAL, symbol="BTCUSDT", limit="2")) == 2
    assert [t["id"] for t in h.ok("GET", "/api/v3/myTrades", SIGNAL, symbol="BTCUSDT",
                                  fromId=str(trades[2]["id"]))] == [trades[2]["id"]]
    assert h.error("GET", "/api/v3/myTrades", SIGNAL, symbol="BTCUSDT", limit="1001") == -1130
    assert h.error("GET", "/api/v3/myTrades", SIGNAL) == -1102


def test_margin_all_pairs_lists_the_symbols_as_not_margin_tradable(h):
    """/sapi/v1/margin/allPairs answers (ccxt's load_markets reads it): no pair is margin-tradable here."""
    pairs = h.ok("GET", "/sapi/v1/margin/allPairs")
    assert {p["symbol"] for p in pairs} >= {"BTCUSDT"}
    assert not any(p["isMarginTrade"] for p in pairs)


def test_duplicate_mode_any_refuses_every_reuse():
    """duplicate_client_order_id = "any": a filled order's id cannot be reused either."""
    text = default_config_path().read_text(encoding="utf-8")
    h = Harness(parse_config(text.replace('duplicate_client_order_id = "open"', 'duplicate_client_order_id = "any"')))
    filled = dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="mkt-1")
    h.ok("POST", "/api/v3/order", SIGNAL, **filled)
    assert h.error("POST", "/api/v3/order", SIGNAL, **filled) == -2010


def test_test_order_with_compute_commission_rates_returns_binance_commission_fields(h):
    """computeCommissionRates=true answers standard/tax commission and discount, as Binance does."""
    reply = h.ok("POST", "/api/v3/order/test", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                 quantity="0.001", computeCommissionRates="true")
    assert set(reply) == {"standardCommissionForOrder", "taxCommissionForOrder", "discount"}
    assert Decimal(reply["standardCommissionForOrder"]["taker"]) == 0
    assert reply["discount"]["discountAsset"] == "BNB"


def test_test_order_weighs_20_with_compute_commission_rates_and_1_without(h):
    """Binance's order/test weight: 1, or 20 with computeCommissionRates=true (X-MBX-USED-WEIGHT-1M)."""
    order = dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    assert h.call("POST", "/api/v3/order/test", SIGNAL, **order).headers["X-MBX-USED-WEIGHT-1M"] == "1"
    reply = h.call("POST", "/api/v3/order/test", SIGNAL, computeCommissionRates="true", **order)
    assert reply.status == 200, reply.body
    assert reply.headers["X-MBX-USED-WEIGHT-1M"] == "21"


def test_test_order_validates_but_books_nothing(h):
    """/order/test answers {} , moves nothing and is listed apart for dry-run checks."""
    assert h.ok("POST", "/api/v3/order/test", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                quantity="5", newClientOrderId="dry-1") == {}
    assert h.error("POST", "/api/v3/order/test", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                   quantity="0.00001") == -1013
    _, orders = h.admin("GET", "/sandbox/orders")
    assert orders["orders"] == []
    assert [(t["clientOrderId"], t["key"]) for t in orders["test_orders"]] == [("dry-1", "signal")]


def test_order_with_unknown_parameter_is_1104(h):
    """A misspelt parameter is refused, not ignored."""
    assert h.error("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                   quantity="0.001", quantiy="1") == -1104


def test_withdrawal_progresses_4_then_6_and_debits_the_balance(h):
    """Accepted: {"id"}, status 4 with no txId, then 6 with txId and completeTime after 3 s."""
    reply = h.withdraw()
    withdrawal_id = json.loads(reply.body)["id"]
    assert reply.status == 200 and len(withdrawal_id) == 32
    assert h.free("USDT") == Decimal("99980")
    record = h.history(withdrawOrderId="w-1")[0]
    assert (record["id"], record["status"], record["txId"], record["applyTime"]) == \
        (withdrawal_id, 4, "", "2023-11-14 22:13:20")
    assert "completeTime" not in record
    h.now += 3000
    done = h.history(idList=withdrawal_id)[0]
    assert done["status"] == 6 and len(done["txId"]) == 64 and done["completeTime"] == "2023-11-14 22:13:23"
    assert (done["amount"], done["transactionFee"], done["network"]) == ("20.00000000", "1.00000000", "TRX")


def test_failing_address_ends_5_and_the_amount_comes_back_once(h):
    """A configured failing address: status 5 after the delay, the amount refunded exactly once."""
    h.withdraw(address=FAILING)
    assert h.free("USDT") == Decimal("99980")
    h.now += 3000
    assert h.history()[0]["status"] == 5
    assert h.free("USDT") == Decimal("100000")
    assert h.free("USDT") == Decimal("100000")


def test_operator_cancel_forces_status_1_and_refunds(h):
    """POST /sandbox/withdrawals/{id}/status {"status": 1}: cancelled, amount back."""
    withdrawal_id = json.loads(h.withdraw().body)["id"]
    status, record = h.admin("POST", f"/sandbox/withdrawals/{withdrawal_id}/status", {"status": 1})
    assert status == 200 and record["status"] == 1 and record["refunded"] is True
    h.now += 10_000
    assert h.history()[0]["status"] == 1
    assert h.free("USDT") == Decimal("100000")


def test_apply_calls_count_every_call_and_duplicates_are_not_deduplicated(h):
    """Two applies with one withdrawOrderId make two withdrawals; refused calls count too."""
    h.withdraw(order_id="dup")
    h.withdraw(order_id="dup")
    h.withdraw(order_id="dup", amount="1")          # below the minimum: refused, still counted
    _, listing = h.admin("GET", "/sandbox/withdrawals")
    assert listing["apply_calls"] == {"dup": 3}
    assert [w["withdrawOrderId"] for w in listing["withdrawals"]] == ["dup", "dup"]


def test_refused_withdrawal_codes_reach_the_client(h):
    """Wallet refusals come back as Binance errors with HTTP 400."""
    reply = h.withdraw(amount="9")
    assert (reply.status, json.loads(reply.body)["code"]) == (400, -4022)
    assert h.error("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, coin="USDT", address=GOOD) == -1102


def test_key_permissions_changed_at_run_time(h):
    """Revoking the treasury key's withdraw right makes the next apply -2015."""
    status, view = h.admin("POST", "/sandbox/keys/treasury", {"can_withdraw": False})
    assert status == 200 and view["can_withdraw"] is False and "api_secret" not in view
    assert json.loads(h.withdraw().body)["code"] == -2015
    assert h.ok("GET", "/sapi/v1/account/apiRestrictions", TREASURY)["enableWithdrawals"] is False


def test_api_restrictions_report_every_right_as_configured_and_deleted_keys_answer_2015(h):
    """Each money-moving and extra right set by the admin API shows under Binance's field
    name; a key deleted or expired at run time gets -2015 on its next signed call."""
    flags = {"can_withdraw": "enableWithdrawals", "enable_internal_transfer": "enableInternalTransfer",
             "permits_universal_transfer": "permitsUniversalTransfer", "enable_margin": "enableMargin",
             "enable_futures": "enableFutures", "enable_vanilla_options": "enableVanillaOptions",
             "enable_portfolio_margin_trading": "enablePortfolioMarginTrading", "ip_restrict": "ipRestrict"}
    for on in (True, False):
        h.admin("POST", "/sandbox/keys/signal", {flag: on for flag in flags})
        view = h.ok("GET", "/sapi/v1/account/apiRestrictions", SIGNAL)
        assert {field: view[field] for field in flags.values()} == {field: on for field in flags.values()}
    h.admin("POST", "/sandbox/keys/signal", {"deleted": True})
    assert h.error("GET", "/sapi/v1/account/apiRestrictions", SIGNAL) == -2015
    h.admin("POST", "/sandbox/keys/signal", {"deleted": False, "expires_at": T0})
    assert h.error("GET", "/api/v3/account", SIGNAL) == -2015


def test_exchange_whitelist_enabled_by_admin(h):
    """With the key's exchange-side whitelist on, an unlisted address is -4035."""
    h.admin("POST", "/sandbox/keys", {"name": "treasury", "whitelist_enabled": True})
    assert json.loads(h.withdraw(address="TSandboxDemoNotListedAddress111111").body)["code"] == -4035
    assert h.withdraw().status == 200


def test_history_newest_first_with_filters_and_paging(h):
    """Newest first; coin/status/offset/limit filter; idList over 45 ids is refused."""
    ids = []
    for n in range(3):
        ids.append(json.loads(h.withdraw(order_id=f"w-{n}").body)["id"])
        h.now += 1000
    assert [r["id"] for r in h.history()] == ids[::-1]
    assert [r["id"] for r in h.history(offset=1, limit=1)] == [ids[1]]
    assert h.history(coin="BTC") == []
    assert [r["id"] for r in h.history(status=6)] == [ids[0]]
    assert h.error("GET", "/sapi/v1/capital/withdraw/history", TREASURY,
                   idList=",".join(f"x{n}" for n in range(46))) == -1130


def test_history_window_rules(h):
    """More than 90 days (7 with withdrawOrderId) between startTime and endTime: -4047."""
    day = 86_400_000
    assert h.error("GET", "/sapi/v1/capital/withdraw/history", TREASURY,
                   startTime=T0 - 91 * day, endTime=T0) == -4047
    assert h.error("GET", "/sapi/v1/capital/withdraw/history", TREASURY, withdrawOrderId="w",
                   startTime=T0 - 7 * day, endTime=T0) == -4047
    assert h.history(withdrawOrderId="w", startTime=T0 - 7 * day + 1, endTime=T0) == []


def test_coin_config_lists_networks_with_string_amounts(h):
    """getall: each coin with its networkList; amounts are strings."""
    coins = {c["coin"]: c for c in h.ok("GET", "/sapi/v1/capital/config/getall", TREASURY)}
    trx = next(n for n in coins["USDT"]["networkList"] if n["network"] == "TRX")
    assert (trx["withdrawMin"], trx["withdrawFee"], trx["isDefault"], trx["withdrawEnable"]) == \
        ("10.00000000", "1.00000000", True, True)
    assert trx["addressRegex"] == "^T[1-9A-HJ-NP-Za-km-z]{33}$"


def test_fault_5xx_before_applies_nothing_and_5xx_after_applies(h):
    """5xx_before: HTML 503, no withdrawal; 5xx_after: HTML 500, the withdrawal exists."""
    path = "/sapi/v1/capital/withdraw/apply"
    h.admin("POST", "/sandbox/faults", {"faults": [{"path": path, "kind": "5xx_before"}]})
    before = h.withdraw(order_id="a")
    assert (before.status, before.content_type) == (503, "text/html") and b"<html>" in before.body
    h.admin("POST", "/sandbox/faults", {"faults": [{"path": path, "kind": "5xx_after"}]})
    after = h.withdraw(order_id="b")
    assert after.status == 500
    _, listing = h.admin("GET", "/sandbox/withdrawals")
    assert [w["withdrawOrderId"] for w in listing["withdrawals"]] == ["b"]
    assert listing["apply_calls"] == {"b": 1}


def test_fault_drops_and_binance_errors(h):
    """drop_* close without answer (after: applied); 429/418 carry Retry-After; -1021 and auth."""
    path = "/api/v3/order"
    order = dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    h.admin("POST", "/sandbox/faults", {"faults": [
        {"path": path, "kind": "drop_before"}, {"path": path, "kind": "drop_after"},
        {"path": path, "kind": "429", "retry_after": 7}, {"path": path, "kind": "418"},
        {"path": path, "kind": "-1021"}, {"path": path, "kind": "auth"}]})
    assert h.call("POST", path, SIGNAL, **order).drop
    assert h.call("POST", path, SIGNAL, **order).drop
    limited = h.call("POST", path, SIGNAL, **order)
    assert (limited.status, limited.headers["Retry-After"], json.loads(limited.body)["code"]) == (429, "7", -1003)
    assert h.call("POST", path, SIGNAL, **order).status == 418
    assert h.error("POST", path, SIGNAL, **order) == -1021
    assert h.error("POST", path, SIGNAL, **order) == -2015
    _, orders = h.admin("GET", "/sandbox/orders")
    assert len(orders["orders"]) == 1                     # only drop_after's order was applied


def test_latency_fault_sleeps_before_handling(h):
    """latency: the configured seconds are slept, then the request is served normally."""
    h.admin("POST", "/sandbox/faults", {"faults": [{"path": "/api/v3/time", "kind": "latency", "seconds": 1.5}]})
    assert h.ok("GET", "/api/v3/time") == {"serverTime": T0}
    assert h.slept == [1.5]


def test_admin_refuses_non_loopback_callers_and_bad_bodies(h):
    """The admin API answers loopback only; bad bodies are 400 with an error text."""
    assert h.admin("GET", "/sandbox/health", client_ip="10.0.0.7")[0] == 403
    assert h.admin("POST", "/sandbox/balances", {"asset": "USDT", "free": 5})[0] == 400
    assert h.admin("POST", "/sandbox/clock", {})[0] == 400
    assert h.admin("POST", "/sandbox/withdrawals/nope/status", {"status": 1})[0] == 404
    assert h.admin("GET", "/sandbox/nothing")[0] == 404


def test_admin_sets_balances_and_prices(h):
    """POST /sandbox/balances and /sandbox/prices change what trading sees."""
    status, body = h.admin("POST", "/sandbox/balances", {"asset": "USDT", "free": "10"})
    assert status == 200 and body["balances"]["USDT"] == {"free": "10.00000000", "locked": "0.00000000"}
    h.admin("POST", "/sandbox/prices", {"symbol": "BTCUSDT", "price": "100"})
    order = h.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.1")
    assert order["cummulativeQuoteQty"] == "10.00000000"
    assert h.error("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET",
                   quantity="0.1") == -2010


def test_weight_headers_on_api_and_sapi(h):
    """/api answers X-MBX-USED-WEIGHT-1M; withdraw apply X-SAPI-USED-UID-WEIGHT-1M (900)."""
    assert h.call("GET", "/api/v3/exchangeInfo").headers["X-MBX-USED-WEIGHT-1M"] == "20"
    assert h.withdraw().headers["X-SAPI-USED-UID-WEIGHT-1M"] == "900"


def test_history_by_order_id_without_bounds_is_the_last_7_days_of_the_sandbox_clock(h):
    """Binance: withdrawOrderId without startTime/endTime returns the last 7 days, in the
    EXCHANGE's clock (issue 10, defect 1): the sandbox, 11 min ahead of the host, finds a
    withdrawal made 11 min "in the host's future", and drops it once 7 of its days passed."""
    day = 86_400_000
    h.admin("POST", "/sandbox/clock", {"offset_ms": 11 * 60_000})
    reply = h.call("POST", "/sapi/v1/capital/withdraw/apply", TREASURY, timestamp=T0 + 11 * 60_000, coin="USDT",
                   network="TRX", address=GOOD, amount="20", withdrawOrderId="skewed")
    assert reply.status == 200, reply.body
    found = h.ok("GET", "/sapi/v1/capital/withdraw/history", TREASURY, timestamp=T0 + 11 * 60_000,
                 withdrawOrderId="skewed")
    assert [r["withdrawOrderId"] for r in found] == ["skewed"]
    h.now = T0 + 7 * day + 1
    later = h.ok("GET", "/sapi/v1/capital/withdraw/history", TREASURY, timestamp=h.now + 11 * 60_000,
                 withdrawOrderId="skewed")
    assert later == []


def test_admin_can_plant_a_withdrawal_made_outside_the_bot(h):
    """POST /sandbox/withdrawals books a withdrawal with a given withdrawOrderId (issue 10,
    defect 7): it is in the history, takes no balance and counts no apply call."""
    before = h.free("USDT")
    status, planted = h.admin("POST", "/sandbox/withdrawals", {
        "coin": "USDT", "network": "TRX", "address": GOOD, "amount": "30", "withdrawOrderId": "reused"})
    assert status == 200 and planted["withdrawOrderId"] == "reused" and planted["amount"] == "30.00000000"
    [record] = h.history(withdrawOrderId="reused")
    assert (record["id"], record["amount"], record["address"]) == (planted["id"], "30.00000000", GOOD)
    assert h.free("USDT") == before
    assert h.admin("GET", "/sandbox/withdrawals")[1]["apply_calls"] == {}
    assert h.admin("POST", "/sandbox/withdrawals", {"coin": "USDT"})[0] == 400
