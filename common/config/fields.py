"""The settings both bots parse alike: the exchange URL, the treasury's endpoints, API keys."""

from __future__ import annotations

import ipaddress
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from common.binance.signing import HMAC_KEY_TYPE, Signer
from common.config.env import ConfigError, Env
from common.logs import mask_key, register_secret

DEFAULT_BASE_URL = "https://api.binance.com"
DEFAULT_INTENT_ENDPOINT = "tcp://127.0.0.1:7701"
DEFAULT_EVENT_ENDPOINT = "tcp://127.0.0.1:7702"


def check_base_url(url: str) -> str:
    """`https://` always; `http://` only for a loopback host (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"BINANCE_BASE_URL must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError("BINANCE_BASE_URL must use https:// unless its host is loopback")
    return url.rstrip("/")


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(name: str, endpoint: str) -> str:
    if not endpoint.startswith("tcp://") or ":" not in endpoint[6:]:
        raise ConfigError(f"{name} must look like tcp://HOST:PORT, not {endpoint!r}")
    return endpoint


def endpoint_is_loopback(endpoint: str) -> bool:
    host = endpoint[6:].rsplit(":", 1)[0].strip("[]")
    return host in ("localhost",) or (_is_ip(host) and ipaddress.ip_address(host).is_loopback)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class ApiCredentials:
    """The API key and what signs for it: an HMAC secret (text), or an Ed25519 signer
    holding a private key read from a file (issue 12 item 7)."""
    key: str
    secret: "str | Signer" = field(repr=False)
    private_key_file: Path | None = None

    @property
    def key_type(self) -> str:
        return HMAC_KEY_TYPE if isinstance(self.secret, str) else self.secret.key_type

    def describe(self, keygen_command: str) -> str:
        """One line for `check`: the key type, and where an Ed25519 key is read from."""
        if self.private_key_file is not None:
            return f"{self.key_type} key {mask_key(self.key)}, private key {self.private_key_file} (mode 0600)"
        return (f"{self.key_type} key {mask_key(self.key)} (Binance recommends Ed25519 keys: "
                f"`{keygen_command}` makes one)")

    def __repr__(self) -> str:
        return f"ApiCredentials(key={mask_key(self.key)!r}, secret='***')"


def load_credentials(env: Env, key_name: str, secret_name: str, private_key_file_name: str) -> ApiCredentials:
    """The key, and exactly one of an HMAC secret (`secret_name`) or an Ed25519 private key
    file (`private_key_file_name`): both set is refused, since which one signs would be a guess."""
    key = env.require(key_name)
    register_secret(key)
    secret = env.get(secret_name)
    key_file = env.path_of(private_key_file_name)
    if secret is not None and key_file is not None:
        raise ConfigError(f"set one of {secret_name} (an HMAC key) and {private_key_file_name} "
                          "(an Ed25519 key), not both")
    if key_file is not None:
        return ApiCredentials(key, load_ed25519_signer(key_file, private_key_file_name), key_file)
    if secret is None:
        raise ConfigError(f"{secret_name} is not set (or set {private_key_file_name} for an Ed25519 key)")
    register_secret(secret)
    return ApiCredentials(key, secret)


def load_ed25519_signer(path: Path, what: str) -> Signer:
    """An Ed25519 signer from a private key file that only its owner can read: a key the
    group or others can read is refused, not warned about (DESIGN section 9: tighten at once)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path} ({type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what}: {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigError(f"{what}: {path} has mode {mode:04o}; a private key must be readable by "
                          f"its owner only (chmod 600 {path})")
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path} ({type(exc).__name__})") from None
    # Imported here so that an HMAC-only deployment never loads `cryptography`.
    from common.binance.ed25519 import Ed25519KeyError, Ed25519Signer, pem_body
    try:
        signer = Ed25519Signer.from_pem(pem)
    except Ed25519KeyError as exc:
        raise ConfigError(f"{what}: {path} {exc}") from None
    register_secret(pem_body(pem))
    return signer
