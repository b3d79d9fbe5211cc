"""demo/feeder.py: the signal sequence and how each is authenticated (pure parts)."""

from __future__ import annotations

import hashlib
import hmac
import json

from demo.feeder import request_for, run_tag, sequence
from signal_bot.signals import parse_signal
from signal_bot.webhook import judge

SECRET = "test-secret-not-real-0001"


def test_every_signal_is_judged_by_the_real_webhook_as_the_feeder_expects():
    """Through signal_bot.webhook.judge: the wrong secret is a 401, the rest parse to signals."""
    for step in sequence("abc123"):
        body, headers = request_for(step, SECRET)
        verdict = judge(body, headers.get("X-Signature"), SECRET)
        if step.expect_status == 401:
            assert verdict.status == 401
        else:
            assert verdict == parse_signal(step.body)


def test_the_sequence_tells_the_story():
    """Buys, a wrong secret, a duplicate id, a symbol off the list, a tiny order, then the sell."""
    steps = sequence("abc123")
    ids = [step.body["id"] for step in steps]
    assert ids[3] == ids[0] and len(set(ids)) == len(ids) - 1
    assert [s.auth for s in steps].count("wrong") == 1 and "signature" in [s.auth for s in steps]
    assert steps[4].body["symbol"] == "DOGEUSDT" and steps[-1].body["side"] == "SELL"
    assert all(len(i) <= 36 and i.startswith("demo-abc123-") for i in ids)


def test_the_signature_is_the_hmac_of_the_exact_body_and_carries_no_passphrase():
    """X-Signature signs the raw bytes sent; the secret itself is not in the body."""
    step = next(s for s in sequence("t") if s.auth == "signature")
    body, headers = request_for(step, SECRET)
    assert headers["X-Signature"] == hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert "passphrase" not in json.loads(body)


def test_run_tags_differ_from_one_run_to_the_next():
    """A per-run tag keeps a second demo's ids new; short enough for the 36-character id."""
    assert run_tag(1_795_615_931) != run_tag(1_795_615_932)
    assert len(run_tag(1_795_615_931)) <= 6 and run_tag(0) == "0"
