"""The sandbox verifying Ed25519-signed requests (sandbox/ed25519_verify.py), through its app.

Signatures here are made with `cryptography` directly, not with our client's signer, so
the sandbox's path is checked against the documented algorithm, not against our client.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlencode

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sandbox.config import ConfigError, parse_config
from tests.support.sandbox_app_cases import SIGNAL, TREASURY, Harness

ACCOUNT = "/api/v3/account"


def key_pair() -> tuple[ed25519.Ed25519PrivateKey, str]:
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


def ed25519_call(h: Harness, key, private, path=ACCOUNT, method="GET", encode_signature=True, **params):
    query = urlencode({**params, "timestamp": h.now}).encode()
    signature = base64.b64encode(private.sign(query)).decode()
    query += b"&signature=" + (quote(signature, safe="") if encode_signature else signature).encode()
    return h.app.handle(method, path, query, b"", key.api_key, "127.0.0.1")


@pytest.fixture
def h() -> Harness:
    return Harness()


def switch_to_ed25519(h: Harness, key, public_pem: str) -> dict:
    status, body = h.admin("POST", "/sandbox/keys", {"name": key.name, "ed25519_public_key": public_pem})
    assert status == 200, body
    return body


def test_a_key_switched_to_ed25519_answers_requests_signed_with_its_private_key(h):
    """After the public key is 'pasted' (admin API), an Ed25519 signature of totalParams is accepted."""
    private, public = key_pair()
    assert switch_to_ed25519(h, SIGNAL, public)["key_type"] == "Ed25519"
    reply = ed25519_call(h, SIGNAL, private)
    assert reply.status == 200, reply.body
    assert "balances" in json.loads(reply.body)


def test_an_ed25519_key_refuses_its_old_hmac_secret_with_1022(h):
    """A key is one type: once Ed25519, an HMAC signature with the old secret is a bad signature."""
    switch_to_ed25519(h, SIGNAL, key_pair()[1])
    assert h.error("GET", ACCOUNT, SIGNAL) == -1022


def test_a_signature_by_another_ed25519_key_is_refused_with_1022(h):
    """The right shape but the wrong private key: -1022, nothing answered."""
    switch_to_ed25519(h, SIGNAL, key_pair()[1])
    reply = ed25519_call(h, SIGNAL, key_pair()[0])
    assert reply.status == 400 and json.loads(reply.body)["code"] == -1022


def test_a_base64_signature_sent_without_percent_encoding_is_refused_when_it_holds_a_plus(h):
    """Binance: the signature must be URL-encoded; a raw '+' reads as a space and fails (-1022)."""
    private, public = key_pair()
    switch_to_ed25519(h, SIGNAL, public)
    for attempt in range(64):  # find a request whose signature holds '+'
        signature = base64.b64encode(private.sign(urlencode({"n": attempt, "timestamp": h.now}).encode()))
        if b"+" in signature:
            break
    reply = ed25519_call(h, SIGNAL, private, encode_signature=False, n=attempt)
    assert reply.status == 400 and json.loads(reply.body)["code"] == -1022


def test_a_tampered_parameter_after_signing_is_refused_with_1022(h):
    """The signature covers totalParams: change one byte and it no longer verifies."""
    private, public = key_pair()
    switch_to_ed25519(h, TREASURY, public)
    query = urlencode({"coin": "USDT", "timestamp": h.now}).encode()
    signature = quote(base64.b64encode(private.sign(query)).decode(), safe="")
    tampered = query.replace(b"USDT", b"USDC") + b"&signature=" + signature.encode()
    reply = h.app.handle("GET", "/sapi/v1/capital/withdraw/history", tampered, b"", TREASURY.api_key, "127.0.0.1")
    assert reply.status == 400 and json.loads(reply.body)["code"] == -1022


@pytest.mark.parametrize("signature", ["", "not-base64!", base64.b64encode(b"short").decode(), "A" * 88])
def test_a_malformed_ed25519_signature_is_refused_not_crashed_on(h, signature):
    """Empty, not base64, too short, or 64 bytes of nothing: an error answer, never a 500."""
    switch_to_ed25519(h, SIGNAL, key_pair()[1])
    query = urlencode({"timestamp": h.now, "signature": signature}).encode()
    reply = h.app.handle("GET", ACCOUNT, query, b"", SIGNAL.api_key, "127.0.0.1")
    assert 400 <= reply.status < 500
    assert json.loads(reply.body)["code"] in (-1022, -1102)


def test_the_admin_api_refuses_a_public_key_that_is_not_ed25519_and_changes_nothing(h):
    """A junk PEM is a 400 and the key still signs with HMAC."""
    status, body = h.admin("POST", "/sandbox/keys", {"name": SIGNAL.name, "ed25519_public_key": "junk"})
    assert status == 400 and "PEM" in json.dumps(body)
    assert "balances" in h.ok("GET", ACCOUNT, SIGNAL)


def test_the_key_list_shows_the_key_type_and_the_public_key_never_a_secret(h):
    """GET /sandbox/keys: key_type per key; the HMAC secret is never in it."""
    _, public = key_pair()
    switch_to_ed25519(h, SIGNAL, public)
    status, body = h.admin("GET", "/sandbox/keys")
    types = {k["name"]: k["key_type"] for k in body["keys"]}
    assert types[SIGNAL.name] == "Ed25519" and types[TREASURY.name] == "HMAC"
    assert TREASURY.api_secret not in json.dumps(body)


KEY_TOML = '[[key]]\nname = "k"\napi_key = "k-not-real-0000000000000"\n'


@pytest.mark.parametrize("extra, says", [
    ("", "exactly one of api_secret"),
    ('api_secret = "s-not-real"\ned25519_public_key = """{public}"""\n', "exactly one of api_secret"),
    ('ed25519_public_key = "junk"\n', "not a public key in PEM"),
])
def test_a_config_key_needs_exactly_one_valid_kind_of_secret(extra, says):
    """Neither or both secrets, or a junk public key: the sandbox config is refused, saying which."""
    with pytest.raises(ConfigError, match=says):
        parse_config(KEY_TOML + extra.format(public=key_pair()[1]))


def test_a_config_key_may_be_ed25519_from_the_start():
    """[[key]] with ed25519_public_key only is an Ed25519 key."""
    config = parse_config(KEY_TOML + f'ed25519_public_key = """{key_pair()[1]}"""\n')
    assert config.key[0].key_type == "Ed25519"
    assert msgspec.structs.asdict(config.key[0])["api_secret"] == ""
