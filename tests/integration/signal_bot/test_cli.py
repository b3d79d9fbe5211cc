"""The console script's pure parts and the `intent` command against a fake treasury (real CURVE)."""

from __future__ import annotations

import json
import logging

import pytest

from signal_bot import cli
from tests.support.ports import free_port
from tests.support.fake_treasury import CurveFiles, FakeTreasury


@pytest.fixture(autouse=True)
def restore_logging():
    """cli.main installs a handler on the (captured) stderr; put the root logger back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def intent_env(tmp_path, curve: CurveFiles, port: int):
    env = tmp_path / "signal.env"
    env.write_text(
        "SIGNAL_API_KEY=signal-key-not-real-000000000000\nSIGNAL_API_SECRET=signal-secret-not-real-0000\n"
        "SIGNAL_WEBHOOK_SECRET=test-secret-not-real-0001\n"
        f"SIGNAL_CURVE_SECRET_FILE={curve.signal_secret}\nTREASURY_CURVE_PUBLIC_FILE={curve.treasury_public}\n"
        f"TREASURY_INTENT_ENDPOINT=tcp://127.0.0.1:{port}\nSIGNAL_CONFIG_FILE=absent.toml\n")
    env.chmod(0o600)
    return env


def test_intent_prints_the_decision_and_exits_by_outcome(tmp_path, capsys, monkeypatch):
    """Accepted: the decision as one JSON line, exit 0; rejected: exit 1; same id again: same decision."""
    for name in ("TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    curve = CurveFiles.make(tmp_path / "keys")
    treasury = FakeTreasury(curve, free_port(), free_port(), planned={"man-rej": ("rejected", "unknown_destination",
                                                                                "denied")}).start()
    env = intent_env(tmp_path, curve, treasury.intent_port)
    args = ["intent", "--env-file", str(env), "--destination", "cold-wallet", "--coin", "USDT", "--network", "TRX",
            "--amount", "25.50", "--reason", "by hand"]
    try:
        assert cli.main(args + ["--intent-id", "man-1"]) == 0
        first = json.loads(capsys.readouterr().out)
        assert first == {"type": "decision", "intent_id": "man-1", "outcome": "accepted", "reason_code": None,
                         "detail": "", "status": "queued"}
        assert cli.main(args + ["--intent-id", "man-rej"]) == 1
        assert json.loads(capsys.readouterr().out)["reason_code"] == "unknown_destination"
    finally:
        treasury.stop()
    sent = treasury.transfer_requests("man-1")[0]
    assert (sent.amount, sent.destination, sent.reason) == ("25.5", "cold-wallet", "by hand")


def test_intent_refuses_bad_input_before_sending(tmp_path, capsys, monkeypatch):
    """A bad amount or coin is refused with exit 2 and nothing is sent."""
    monkeypatch.delenv("TREASURY_API_SECRET", raising=False)
    curve = CurveFiles.make(tmp_path / "keys")
    env = intent_env(tmp_path, curve, free_port())
    base = ["intent", "--env-file", str(env), "--destination", "cold-wallet", "--network", "TRX", "--reason", "r"]
    assert cli.main(base + ["--coin", "USDT", "--amount", "-5"]) == 2
    assert cli.main(base + ["--coin", "usdt", "--amount", "5"]) == 2
    assert "refusing to start" in capsys.readouterr().err


def test_intent_with_no_treasury_exits_3(tmp_path, capsys, monkeypatch):
    """No answer: a JSON line saying treasury_unavailable, exit 3."""
    monkeypatch.delenv("TREASURY_API_SECRET", raising=False)
    curve = CurveFiles.make(tmp_path / "keys")
    (tmp_path / "absent.toml").write_text('[risk]\nsymbols=["BTCUSDT"]\nmax_quote_per_order="1"\n'
                                         'max_orders_per_minute=1\n[treasury]\ntimeout_seconds=0.2\nretries=1\n')
    env = intent_env(tmp_path, curve, free_port())
    code = cli.main(["intent", "--env-file", str(env), "--destination", "d", "--coin", "USDT", "--network", "TRX",
                     "--amount", "5", "--reason", "r"])
    assert code == 3 and json.loads(capsys.readouterr().out)["error"] == "treasury_unavailable"


def test_a_bad_config_is_a_one_line_refusal(tmp_path, capsys, monkeypatch):
    """run with an invalid config file: exit 2 and the key named."""
    monkeypatch.delenv("TREASURY_API_SECRET", raising=False)
    curve = CurveFiles.make(tmp_path / "keys")
    env = intent_env(tmp_path, curve, free_port())
    (tmp_path / "absent.toml").write_text('[risk]\nsymbols=["BTCUSDT"]\nmax_quote_per_order=5\nmax_orders_per_minute=1\n')
    assert cli.main(["run", "--env-file", str(env)]) == 2
    err = capsys.readouterr().err
    assert "absent.toml: risk.max_quote_per_order" in err and len(err.strip().splitlines()) == 1
