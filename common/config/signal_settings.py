"""The signal bot's settings, from its own env file (signal.env): SIGNAL_* and the shared names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from common.config.env import ConfigError, load_env
from common.config.fields import (DEFAULT_BASE_URL, DEFAULT_EVENT_ENDPOINT, DEFAULT_INTENT_ENDPOINT,
                                  ApiCredentials, check_base_url, check_endpoint, load_credentials)
from common.logs import register_secret
from common.config.metrics_bind import SIGNAL_DEFAULT as SIGNAL_METRICS_DEFAULT, MetricsBind, metrics_bind


# Variables whose presence on the signal side means the treasury's secrets leaked there.
TREASURY_SECRET_NAMES = ("TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_PRIVATE_KEY_FILE",
                         "TREASURY_CURVE_SECRET_FILE", "TREASURY_CURVE_SECRET_FILE_NEXT")


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
    # Issue 14: /metrics, /healthz, /readyz (common/metrics_http.py); None: no listener.
    metrics_bind: MetricsBind | None = None

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
        credentials=load_credentials(env, "SIGNAL_API_KEY", "SIGNAL_API_SECRET", "SIGNAL_PRIVATE_KEY_FILE"),
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
        metrics_bind=metrics_bind(env, "SIGNAL_METRICS_BIND", SIGNAL_METRICS_DEFAULT),
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
