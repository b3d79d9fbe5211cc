"""sandbox/order_lists.py with a state file: an order list survives a sandbox restart."""

from __future__ import annotations

from sandbox.cli import fresh_state
from sandbox.state import Store
from tests.support.sandbox_app_cases import CONFIG, SIGNAL, Harness


def test_an_order_list_and_its_legs_survive_a_restart_and_still_fill(tmp_path):
    """Reopened from the file, the list is EXECUTING with its stopPrice; a price move then fills it."""
    path = tmp_path / "state.json"
    first = Harness(store=Store.open(path, lambda: fresh_state(CONFIG)))
    first.ok("POST", "/api/v3/orderList/oco", SIGNAL, symbol="BNBUSDT", side="SELL", quantity="1",
             listClientOrderId="ol-1", aboveType="LIMIT_MAKER", abovePrice="612", aboveClientOrderId="tp-1",
             belowType="STOP_LOSS", belowStopPrice="594", belowClientOrderId="sl-1")
    again = Harness(store=Store.open(path, lambda: fresh_state(CONFIG)))
    assert again.ok("GET", "/api/v3/orderList", SIGNAL, origClientOrderId="ol-1")["listOrderStatus"] == "EXECUTING"
    again.admin("POST", "/sandbox/prices", {"symbol": "BNBUSDT", "price": "590"})
    stop = again.ok("GET", "/api/v3/order", SIGNAL, symbol="BNBUSDT", origClientOrderId="sl-1")
    assert (stop["status"], stop["stopPrice"], stop["orderListId"]) == ("FILLED", "594.00000000", 1)
