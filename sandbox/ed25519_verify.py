"""Verifying an Ed25519-signed request, written from Binance's documentation (pure).

Binance, "SIGNED request example (Ed25519)": the signature is the Ed25519 signature of the
payload (`totalParams`, the same bytes an HMAC key signs), base64 encoded, and sent
percent-encoded; Ed25519 signatures are case-sensitive. The public key is the one the
user pasted into API Management ("Self-generated"), PEM text.
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security

This is the sandbox's own code path, apart from the client's signer
(common/binance/ed25519.py): it shares no code with what it checks.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_BYTES = 64


@lru_cache(maxsize=64)
def public_key(pem: str) -> Ed25519PublicKey:
    """The Ed25519 public key in PEM text, or ValueError (a config or admin input error)."""
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise ValueError("ed25519_public_key is not a public key in PEM format") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("ed25519_public_key is not an Ed25519 key")
    return key


def signature_matches(public_pem: str, payload: bytes, signature: str) -> bool:
    """True when `signature` (base64, already percent-decoded) is the key's signature of `payload`."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) != SIGNATURE_BYTES:
        return False
    try:
        public_key(public_pem).verify(raw, payload)
    except InvalidSignature:
        return False
    return True
