"""sandbox/app.py: the whole request pipeline in process, with a hand-driven clock."""

from __future__ import annotations

import json

from sandbox.cli import fresh_state
from sandbox.state import Store
from tests.support.sandbox_app_cases import CONFIG, SIGNAL, Harness


def test_state_persists_across_a_new_app(tmp_path):
    """A second app on the same state file sees the orders, withdrawals and apply counts."""
    path = tmp_path / "state.json"
    first = Harness(store=Store.open(path, lambda: fresh_state(CONFIG)))
    withdrawal_id = json.loads(first.withdraw(order_id="keep").body)["id"]
    first.ok("POST", "/api/v3/order", SIGNAL, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    second = Harness(store=Store.open(path, lambda: fresh_state(CONFIG)))
    second.now = first.now + 3000
    assert second.history()[0]["id"] == withdrawal_id and second.history()[0]["status"] == 6
    _, listing = second.admin("GET", "/sandbox/withdrawals")
    assert listing["apply_calls"] == {"keep": 1}
    assert len(second.admin("GET", "/sandbox/orders")[1]["orders"]) == 1
