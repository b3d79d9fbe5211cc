"""`signal-bot test-signal FILE` offline: what a body becomes, without trading or writing state."""

from __future__ import annotations

import json

from signal_bot import cli

CONFIG = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "2000"
max_orders_per_minute = 10

[feed]
profile = "tradingview"
"""


def run(tmp_path, capsys, body: str) -> tuple[int, dict]:
    (tmp_path / "signal.toml").write_text(CONFIG)
    (tmp_path / "alert.txt").write_text(body)
    status = cli.main(["test-signal", str(tmp_path / "alert.txt"), "--config", str(tmp_path / "signal.toml"),
                       "--env-file", str(tmp_path / "absent.env"), "--offline"])
    return status, json.loads(capsys.readouterr().out)


def test_a_tradingview_alert_prints_its_signal_and_client_order_id(tmp_path, capsys):
    """The parsed signal and the derived exchange id are printed; exit 0; no state file appears."""
    status, report = run(tmp_path, capsys, '{"id": "BTCUSDT-2019-08-27T09:56:00Z", "action": "buy",'
                                           ' "ticker": "BINANCE:BTCUSDT", "contracts": 0.001, "price": 50000}')
    assert status == 0 and report["profile"] == "tradingview"
    assert report["signal"] == {"id": "BTCUSDT-2019-08-27T09:56:00Z", "symbol": "BTCUSDT", "side": "BUY",
                                "type": "LIMIT", "quantity": "0.001", "price": "50000", "action": "open"}
    assert report["client_order_id"].startswith("h.") and len(report["client_order_id"]) == 36
    assert "passphrase not checked" in report["notes"][0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alert.txt", "signal.toml"]


def test_a_refused_body_prints_the_field_and_exits_one(tmp_path, capsys):
    """A text command with a bad key: the refusal names it; exit 1."""
    status, report = run(tmp_path, capsys, "buy BTCUSDT colour=red")
    assert status == 1 and report["refused"]["field"] == "colour" and report["refused"]["status"] == 422


def test_a_body_without_an_id_says_its_id_comes_from_its_hash(tmp_path, capsys):
    """No id: the body-hash id is shown and named as such."""
    status, report = run(tmp_path, capsys, "buy BTCUSDT quote=100")
    assert status == 0 and report["id_from"] == "body_hash" and report["signal"]["id"].startswith("b-")
