"""The webhook's pure judge: the signature is checked before the body is parsed (the
webhook over real HTTP is in tests/integration/signal_bot/test_webhook.py)."""

from __future__ import annotations

import json

from signal_bot.webhook import judge, signature_of

SECRET = "test-secret-not-real-0001"
SIGNAL = {"id": "wh-1", "symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": "0.01"}


def test_judge_checks_the_signature_before_parsing():
    """With X-Signature, a forged body is 401 even if it is valid JSON."""
    body = json.dumps(SIGNAL).encode()
    assert judge(body, signature_of(SECRET, body), SECRET).id == "wh-1"
    assert judge(body + b" ", signature_of(SECRET, body), SECRET).status == 401
    assert judge(b"{bad", signature_of(SECRET, b"{bad"), SECRET).status == 400
