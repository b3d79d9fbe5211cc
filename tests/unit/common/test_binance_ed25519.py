"""common/binance/ed25519.py and Ed25519 in sign_request: pure, no file, no socket.

The signer against RFC 8032's published test vector (a world we did not write), and the
signed request against `cryptography`'s own verification of what we send.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from common.binance import sign_request
from common.binance.ed25519 import (Ed25519KeyError, Ed25519Signer, load_private_key, new_key_pair,
                                    pem_body, private_pem)

# RFC 8032 section 7.1, TEST 1 (the empty message).
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
                              "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


def rfc_signer() -> Ed25519Signer:
    return Ed25519Signer(ed25519.Ed25519PrivateKey.from_private_bytes(RFC_SECRET))


def test_the_signer_gives_rfc_8032s_signature_base64_encoded():
    """RFC 8032 TEST 1: the empty message signs to the published bytes; we send them base64."""
    assert rfc_signer().signature("") == base64.b64encode(RFC_SIGNATURE).decode()


def test_the_public_key_of_the_rfc_secret_is_the_published_one():
    """The public PEM we print for Binance holds RFC 8032's public key for that secret."""
    public = serialization.load_pem_public_key(rfc_signer().public_pem())
    assert public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == RFC_PUBLIC


def test_a_signed_request_carries_a_percent_encoded_base64_signature_of_the_bytes_before_it():
    """sign_request with an Ed25519 key: base64's + / = are percent-encoded, and the decoded
    signature verifies over exactly the totalParams sent."""
    private_text, public_text = new_key_pair()
    signer = Ed25519Signer.from_pem(private_text)
    signed = sign_request(signer, [("coin", "USDT"), ("note", "a b")], recv_window_ms=5000, timestamp_ms=1)
    payload, _, sent_signature = signed.rpartition("&signature=")
    assert payload == "coin=USDT&note=a%20b&recvWindow=5000&timestamp=1"
    assert not set("+/=") & set(sent_signature)
    signature = base64.b64decode(unquote(sent_signature), validate=True)
    serialization.load_pem_public_key(public_text).verify(signature, payload.encode())
    assert dict(parse_qsl(signed))["signature"] == unquote(sent_signature)


def test_many_requests_sign_with_one_signer_deterministically():
    """Ed25519 is deterministic: the same payload signs the same twice, a different one differently."""
    signer = rfc_signer()
    assert signer.signature("a=1") == signer.signature("a=1") != signer.signature("a=2")


def test_a_new_key_pair_is_pkcs8_private_and_spki_public_pem():
    """new_key_pair writes the PEM shapes Binance's key generator does; the two halves match."""
    private_text, public_text = new_key_pair()
    assert private_text.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_text.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert Ed25519Signer.from_pem(private_text).public_pem() == public_text
    assert new_key_pair()[0] != private_text


def _rsa_pem(password: bytes | None = None) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.mark.parametrize("pem, says", [
    (b"not a key at all", "not a private key in PEM"),
    (b"", "not a private key in PEM"),
    (new_key_pair()[1], "not a private key in PEM"),              # the public half by mistake
    (_rsa_pem(), "not an Ed25519 key"),                           # an RSA key: Binance's other type
    (_rsa_pem(b"pass"), "passphrase-protected"),
    (ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass")), "passphrase-protected"),
])
def test_a_file_that_is_not_an_unencrypted_ed25519_private_key_is_refused_by_what_it_is(pem, says):
    """Junk, a public key, an RSA key and an encrypted key each get their own plain error."""
    with pytest.raises(Ed25519KeyError, match=says) as caught:
        load_private_key(pem)
    assert pem_body(pem) == "" or pem_body(pem) not in str(caught.value)


def test_the_signer_and_its_errors_never_show_the_private_key():
    """repr, str and the PEM body: what a log scrubber is given is the key's base64 text."""
    key = ed25519.Ed25519PrivateKey.generate()
    text = private_pem(key)
    body = pem_body(text)
    assert body and "-" not in body and body in text.decode().replace("\n", "")
    signer = Ed25519Signer.from_pem(text)
    assert body not in repr(signer) and "not shown" in repr(signer)


def test_the_client_signs_a_real_request_with_an_ed25519_key_that_verifies():
    """BinanceClient with an Ed25519Signer: the key header, and a signature (percent-encoded
    base64) that cryptography verifies over exactly the query sent."""
    import responses

    from common.binance import BinanceClient
    from common.clock import FakeClock
    from tests.support.binance_cases import API_KEY, BASE, NOW_MS
    private_text, public_text = new_key_pair()
    client = BinanceClient(BASE, API_KEY, Ed25519Signer.from_pem(private_text), clock=FakeClock(now_ms=NOW_MS))
    assert client.key_type == "Ed25519"
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/sapi/v1/account/apiRestrictions", json={
            "ipRestrict": True, "enableReading": True, "enableWithdrawals": False, "enableSpotAndMarginTrading": True})
        client.api_restrictions()
        request = mock.calls[0].request
    query = request.url.split("?", 1)[1]
    payload, _, sent = query.rpartition("&signature=")
    assert request.headers["X-MBX-APIKEY"] == API_KEY
    serialization.load_pem_public_key(public_text).verify(base64.b64decode(unquote(sent)), payload.encode())
