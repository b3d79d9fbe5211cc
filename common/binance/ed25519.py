"""Ed25519 API keys: making a key pair, reading the private key, signing with it.

Binance's recommended key type (issue 12 item 7). The key pair is made on the host; only
the public key is pasted into Binance ("Create API" -> "Self-generated"), so the private
key never leaves the machine and Binance never holds a secret that could sign for us.

The signature of a SIGNED request is the Ed25519 signature of the `totalParams` bytes,
base64 encoded (then percent-encoded when sent, since base64 uses `+`, `/` and `=`):
https://developers.binance.com/docs/binance-spot-api-docs/rest-api/request-security
("SIGNED request example (Ed25519)"). Unlike HMAC signatures, it is case-sensitive.

The private key lives only inside the `cryptography` key object held by `Ed25519Signer`:
it is no attribute a repr shows, no log field and no exception text. Keys are PKCS#8 PEM,
unencrypted (as Binance's key generator writes them); the file's mode is the protection,
and `common.config` refuses one that others can read.

This module is imported only where an Ed25519 key is configured or made, so an HMAC-only
deployment never loads `cryptography`.
"""

from __future__ import annotations

import base64

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_TYPE = "Ed25519"


class Ed25519KeyError(ValueError):
    """The bytes are not an unencrypted Ed25519 private key in PEM; the text never quotes them."""


def new_key_pair() -> tuple[bytes, bytes]:
    """A fresh key pair: (private key as PKCS#8 PEM, public key as SubjectPublicKeyInfo PEM)."""
    private = Ed25519PrivateKey.generate()
    return private_pem(private), public_pem(private.public_key())


def private_pem(private: Ed25519PrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key in `pem`, or `Ed25519KeyError` saying what is wrong with it."""
    if b"ENCRYPTED" in pem:
        raise Ed25519KeyError("is passphrase-protected; write it unencrypted with mode 0600 "
                              "(treasuryctl keys binance does)")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise Ed25519KeyError("is passphrase-protected; write it unencrypted with mode 0600") from None
    except (ValueError, UnsupportedAlgorithm):
        raise Ed25519KeyError("is not a private key in PEM format") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise Ed25519KeyError(f"is not an Ed25519 key (it is {type(key).__name__.lstrip('_')})")
    return key


def pem_body(pem: bytes) -> str:
    """The base64 lines of a PEM block joined: what a log scrubber must never let through."""
    lines = pem.decode("ascii", "replace").splitlines()
    return "".join(line.strip() for line in lines if line and not line.startswith("-----"))


class Ed25519Signer:
    """Signs `totalParams` with an Ed25519 private key: base64 of the 64-byte signature."""

    key_type = KEY_TYPE

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def from_pem(cls, pem: bytes) -> "Ed25519Signer":
        return cls(load_private_key(pem))

    def public_pem(self) -> bytes:
        return public_pem(self._private.public_key())

    def signature(self, payload: str) -> str:
        return base64.b64encode(self._private.sign(payload.encode("ascii"))).decode("ascii")

    def __repr__(self) -> str:
        return "Ed25519Signer(private key not shown)"
