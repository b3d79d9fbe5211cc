"""CURVE key files in `zmq.auth` certificate format, and socket set-up for each side.

A server socket gets the treasury's key pair; a client socket gets its own pair and the
treasury's public key. Everything here must run before `bind`/`connect`: CURVE options
set afterwards have no effect (docs/design.md section 8).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import zmq
import zmq.auth

from common.config import ConfigError


@dataclass(frozen=True)
class KeyPair:
    public: bytes
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.decode()!r}, secret='***')"


def load_key_pair(path: Path, what: str) -> KeyPair:
    """Read a `.key_secret` certificate; `what` names the setting in errors."""
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what}: cannot read CURVE secret certificate {path} ({type(exc).__name__})") from None
    if not secret:
        raise ConfigError(f"{what}: {path} holds no secret key (expected a .key_secret file)")
    return KeyPair(public, secret)


def load_public_key(path: Path, what: str) -> bytes:
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what}: cannot read CURVE public certificate {path} ({type(exc).__name__})") from None
    if secret:
        raise ConfigError(f"{what}: {path} holds a secret key; give the public certificate only")
    return public


def load_authorized_clients(folder: Path) -> dict[bytes, str]:
    """Map each allowed client public key (z85) to its name, the certificate file's stem."""
    if not folder.is_dir():
        raise ConfigError(f"TREASURY_AUTHORIZED_CLIENTS_DIR: {folder} is not a folder")
    names_by_key: dict[bytes, str] = {}
    for path in sorted(folder.glob("*.key")):
        public = load_public_key(path, "TREASURY_AUTHORIZED_CLIENTS_DIR")
        if public in names_by_key:
            raise ConfigError(
                f"TREASURY_AUTHORIZED_CLIENTS_DIR: {path.name} repeats the key of {names_by_key[public]}.key")
        names_by_key[public] = path.stem
    if not names_by_key:
        raise ConfigError(f"TREASURY_AUTHORIZED_CLIENTS_DIR: {folder} holds no NAME.key certificate")
    return names_by_key


def generate(folder: Path, name: str) -> tuple[Path, Path]:
    """Create NAME.key and NAME.key_secret in `folder`; the secret file is made 0600."""
    folder.mkdir(parents=True, exist_ok=True)
    public_file, secret_file = zmq.auth.create_certificates(str(folder), name)
    os.chmod(secret_file, 0o600)
    return Path(public_file), Path(secret_file)


def configure_server(sock: zmq.Socket, keys: KeyPair) -> None:
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_server = True


def configure_client(sock: zmq.Socket, keys: KeyPair, server_public: bytes) -> None:
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_serverkey = server_public
