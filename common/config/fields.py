"""The settings both bots parse alike: the exchange URL, the treasury's endpoints, API keys."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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
    key: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ApiCredentials(key={mask_key(self.key)!r}, secret='***')"


def load_credentials(env: Env, key_name: str, secret_name: str) -> ApiCredentials:
    key = env.require(key_name)
    secret = env.require(secret_name)
    register_secret(secret)
    register_secret(key)
    return ApiCredentials(key, secret)
