"""Each bot's settings from its own env file (python-dotenv), overridable by the real environment.

An env file is read with `dotenv_values`, which never touches `os.environ`, so a bot
sees only its own file. Relative paths in a file are taken from that file's folder.
Every problem is a `ConfigError` whose one-line message names the variable.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from dotenv import dotenv_values

from common.logs import get_logger, mask_key, register_secret

log = get_logger("config")

DEFAULT_BASE_URL = "https://api.binance.com"
DEFAULT_INTENT_ENDPOINT = "tcp://127.0.0.1:7701"
DEFAULT_EVENT_ENDPOINT = "tcp://127.0.0.1:7702"


class ConfigError(Exception):
    """A missing or bad setting; the message names the variable and never its secret value."""

    code = "config_invalid"


@dataclass(frozen=True)
class Env:
    """The merged variables of one env file and the real environment."""

    path: Path | None
    values: Mapping[str, str]
    from_file: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            where = f" (env file {self.path})" if self.path else ""
            raise ConfigError(f"{name} is not set{where}")
        return value

    def path_of(self, name: str, default: str | None = None) -> Path | None:
        value = self.get(name, default)
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            base = self.folder if (name in self.from_file or name not in self.values) else Path.cwd()
            path = base / path
        return path

    def require_path(self, name: str, default: str | None = None) -> Path:
        path = self.path_of(name, default)
        if path is None:
            raise ConfigError(f"{name} is not set")
        return path


def load_env(path: str | os.PathLike | None, *, prefixes: tuple[str, ...] = (),
             environ: Mapping[str, str] | None = None) -> Env:
    """Read one env file, then let the real environment override it.

    Only variables named in the file, or starting with one of `prefixes`, or in
    `_COMMON_NAMES` are taken from the real environment, so that a bot does not pick up
    another bot's variables by accident.
    """
    environ = os.environ if environ is None else environ
    file_values: dict[str, str] = {}
    warnings: list[str] = []
    env_path: Path | None = None
    if path is not None:
        env_path = Path(path).expanduser().resolve()
        if not env_path.is_file():
            raise ConfigError(f"env file {env_path} does not exist (pass --env-file PATH)")
        mode = stat.S_IMODE(env_path.stat().st_mode)
        if mode & 0o077:
            warnings.append(
                f"env file {env_path} has mode {mode:04o}; it holds secrets and should be 0600"
            )
        try:
            raw = dotenv_values(env_path, interpolate=False)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"env file {env_path} cannot be read: {type(exc).__name__}") from None
        file_values = {k: (v or "") for k, v in raw.items()}
    merged = dict(file_values)
    overridden = set()
    for name, value in environ.items():
        if name in file_values or name in _COMMON_NAMES or name.startswith(prefixes):
            merged[name] = value
            overridden.add(name)
    # Only values that really come from the file are relative to its folder.
    return Env(env_path, merged, frozenset(file_values.keys() - overridden), tuple(warnings))


_COMMON_NAMES = frozenset({
    "BINANCE_BASE_URL", "LOG_LEVEL", "LOG_FORMAT",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD",
    "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO",
    "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT", "TREASURY_CURVE_PUBLIC_FILE",
})


def check_base_url(url: str) -> str:
    """`https://` always; `http://` only for a loopback host (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"BINANCE_BASE_URL must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError("BINANCE_BASE_URL must use https:// unless its host is loopback")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
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
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    recipients: tuple[str, ...]

    def __repr__(self) -> str:  # the password never appears, not even masked
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"username={self.username!r}, sender={self.sender!r}, recipients={self.recipients!r})")


def load_smtp(env: Env) -> SmtpSettings | None:
    """SMTP settings, or None when SMTP_HOST is unset (alerts are then only logged)."""
    host = env.get("SMTP_HOST")
    if host is None:
        return None
    security = (env.get("SMTP_SECURITY", "starttls") or "starttls").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    port = _int(env, "SMTP_PORT", default_port, 1, 65535)
    sender = env.require("ALERT_EMAIL_FROM")
    recipients = tuple(a.strip() for a in env.require("ALERT_EMAIL_TO").split(",") if a.strip())
    if not recipients:
        raise ConfigError("ALERT_EMAIL_TO must name at least one address")
    for address in (sender, *recipients):
        if "@" not in address or any(c in address for c in "\r\n <>"):
            raise ConfigError(f"ALERT_EMAIL_FROM/ALERT_EMAIL_TO: {address!r} is not an email address")
    username = env.get("SMTP_USERNAME")
    password = env.get("SMTP_PASSWORD")
    if (username is None) != (password is None):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
    register_secret(password)
    return SmtpSettings(host, port, security, username, password, sender, recipients)


def _int(env: Env, name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


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


@dataclass(frozen=True)
class TreasurySettings:
    env_path: Path | None
    base_url: str
    credentials: ApiCredentials
    policy_file: Path
    ledger_path: Path
    intent_endpoint: str
    event_endpoint: str
    curve_secret_file: Path
    authorized_clients_dir: Path
    smtp: SmtpSettings | None
    log_level: str | None
    log_format: str | None
    warnings: tuple[str, ...] = ()
    # Tests and the demo only: poll faster than the policy's 6 s floor, allowed only
    # against a loopback exchange (the sandbox), never against Binance.
    sandbox_poll_seconds: float | None = None
    # Tests only (issue 10): shift this process's host wall clock, to play a skewed or
    # stepped host clock; allowed only against a loopback exchange, like the poll setting.
    test_clock_offset_ms: int | None = None
    test_clock_offset_file: Path | None = None


def _sandbox_poll_seconds(env: Env, base_url: str) -> float | None:
    text = env.get("TREASURY_SANDBOX_POLL_SECONDS")
    if text is None:
        return None
    if not _is_loopback(urlsplit(base_url).hostname or ""):
        raise ConfigError("TREASURY_SANDBOX_POLL_SECONDS is only allowed with a loopback BINANCE_BASE_URL (the sandbox)")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"TREASURY_SANDBOX_POLL_SECONDS must be a number, not {text!r}") from None
    if not 0.05 <= value <= 60:
        raise ConfigError("TREASURY_SANDBOX_POLL_SECONDS must be between 0.05 and 60")
    return value


MAX_TEST_CLOCK_OFFSET_MS = 30 * 86_400_000


def _test_clock_offset(env: Env, base_url: str) -> tuple[int | None, Path | None]:
    """TREASURY_TEST_CLOCK_OFFSET_MS (integer ms, may be negative) and
    TREASURY_TEST_CLOCK_OFFSET_FILE (a file holding such an integer, re-read each second):
    refused unless BINANCE_BASE_URL's host is loopback (the sandbox), as
    TREASURY_SANDBOX_POLL_SECONDS is. A production treasury must never run on a shifted clock."""
    text = env.get("TREASURY_TEST_CLOCK_OFFSET_MS")
    path = env.path_of("TREASURY_TEST_CLOCK_OFFSET_FILE")
    if text is None and path is None:
        return None, None
    if not _is_loopback(urlsplit(base_url).hostname or ""):
        names = " and ".join(n for n, v in (("TREASURY_TEST_CLOCK_OFFSET_MS", text),
                                             ("TREASURY_TEST_CLOCK_OFFSET_FILE", path)) if v is not None)
        raise ConfigError(f"{names} is only allowed with a loopback BINANCE_BASE_URL (the sandbox)")
    offset: int | None = None
    if text is not None:
        try:
            offset = int(text)
        except ValueError:
            raise ConfigError(f"TREASURY_TEST_CLOCK_OFFSET_MS must be an integer (ms), not {text!r}") from None
        if abs(offset) > MAX_TEST_CLOCK_OFFSET_MS:
            raise ConfigError("TREASURY_TEST_CLOCK_OFFSET_MS must be within 30 days either way")
    return offset, path


def load_treasury_settings(env_file: str | os.PathLike | None,
                           environ: Mapping[str, str] | None = None) -> TreasurySettings:
    env = load_env(env_file, prefixes=("TREASURY_",), environ=environ)
    base_url = check_base_url(env.get("BINANCE_BASE_URL", DEFAULT_BASE_URL))
    test_offset_ms, test_offset_file = _test_clock_offset(env, base_url)
    return TreasurySettings(
        env_path=env.path,
        base_url=base_url,
        credentials=load_credentials(env, "TREASURY_API_KEY", "TREASURY_API_SECRET"),
        policy_file=env.require_path("TREASURY_POLICY_FILE", "treasury.toml"),
        ledger_path=env.require_path("TREASURY_LEDGER_PATH", "treasury-ledger.sqlite"),
        intent_endpoint=check_endpoint(
            "TREASURY_INTENT_ENDPOINT", env.get("TREASURY_INTENT_ENDPOINT", DEFAULT_INTENT_ENDPOINT)),
        event_endpoint=check_endpoint(
            "TREASURY_EVENT_ENDPOINT", env.get("TREASURY_EVENT_ENDPOINT", DEFAULT_EVENT_ENDPOINT)),
        curve_secret_file=env.require_path("TREASURY_CURVE_SECRET_FILE"),
        authorized_clients_dir=env.require_path("TREASURY_AUTHORIZED_CLIENTS_DIR"),
        smtp=load_smtp(env),
        log_level=env.get("LOG_LEVEL"),
        log_format=env.get("LOG_FORMAT"),
        warnings=env.warnings,
        sandbox_poll_seconds=_sandbox_poll_seconds(env, base_url),
        test_clock_offset_ms=test_offset_ms,
        test_clock_offset_file=test_offset_file,
    )


# Variables whose presence on the signal side means the treasury's secrets leaked there.
TREASURY_SECRET_NAMES = ("TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE")


@dataclass(frozen=True)
class SignalSettings:
    env_path: Path | None
    base_url: str
    credentials: ApiCredentials
    webhook_host: str
    webhook_port: int
    webhook_secret: str = field(repr=False)
    curve_secret_file: Path = field(default=Path())
    treasury_public_file: Path = field(default=Path())
    intent_endpoint: str = DEFAULT_INTENT_ENDPOINT
    event_endpoint: str = DEFAULT_EVENT_ENDPOINT
    config_file: Path = field(default=Path("signal.toml"))
    state_path: Path = field(default=Path("signal-state.sqlite"))
    log_level: str | None = None
    log_format: str | None = None
    leaked_treasury_names: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (f"SignalSettings(base_url={self.base_url!r}, credentials={self.credentials!r}, "
                f"webhook={self.webhook_host}:{self.webhook_port}, webhook_secret='***')")


def load_signal_settings(env_file: str | os.PathLike | None,
                         environ: Mapping[str, str] | None = None) -> SignalSettings:
    env = load_env(env_file, prefixes=("SIGNAL_",), environ=environ)
    # Look for the treasury's secrets in both the file and the real environment.
    real = os.environ if environ is None else environ
    leaked = tuple(n for n in TREASURY_SECRET_NAMES
                   if env.get(n) is not None or (real.get(n) or "").strip())
    host, port = parse_bind(env.get("SIGNAL_WEBHOOK_BIND", "127.0.0.1:8080"))
    webhook_secret = env.require("SIGNAL_WEBHOOK_SECRET")
    if len(webhook_secret) < 16:
        raise ConfigError("SIGNAL_WEBHOOK_SECRET must be at least 16 characters")
    register_secret(webhook_secret)
    return SignalSettings(
        env_path=env.path,
        base_url=check_base_url(env.get("BINANCE_BASE_URL", DEFAULT_BASE_URL)),
        credentials=load_credentials(env, "SIGNAL_API_KEY", "SIGNAL_API_SECRET"),
        webhook_host=host,
        webhook_port=port,
        webhook_secret=webhook_secret,
        curve_secret_file=env.require_path("SIGNAL_CURVE_SECRET_FILE"),
        treasury_public_file=env.require_path("TREASURY_CURVE_PUBLIC_FILE"),
        intent_endpoint=check_endpoint(
            "TREASURY_INTENT_ENDPOINT", env.get("TREASURY_INTENT_ENDPOINT", DEFAULT_INTENT_ENDPOINT)),
        event_endpoint=check_endpoint(
            "TREASURY_EVENT_ENDPOINT", env.get("TREASURY_EVENT_ENDPOINT", DEFAULT_EVENT_ENDPOINT)),
        config_file=env.require_path("SIGNAL_CONFIG_FILE", "signal.toml"),
        state_path=env.require_path("SIGNAL_STATE_PATH", "signal-state.sqlite"),
        log_level=env.get("LOG_LEVEL"),
        log_format=env.get("LOG_FORMAT"),
        leaked_treasury_names=leaked,
        warnings=env.warnings,
    )


def parse_bind(text: str) -> tuple[str, int]:
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"SIGNAL_WEBHOOK_BIND must be HOST:PORT, not {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"SIGNAL_WEBHOOK_BIND port must be a number, not {port_text!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"SIGNAL_WEBHOOK_BIND port must be 0-65535, not {port}")
    return host.strip("[]"), port
