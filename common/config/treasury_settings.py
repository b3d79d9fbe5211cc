"""The treasury's settings, from its own env file (treasury.env): TREASURY_* and the shared names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from common.config.curve_next import CurveNext, curve_next
from common.config.env import ConfigError, Env, load_env
from common.config.fields import (DEFAULT_BASE_URL, DEFAULT_EVENT_ENDPOINT, DEFAULT_INTENT_ENDPOINT,
                                  ApiCredentials, check_base_url, check_endpoint, is_loopback_host,
                                  load_credentials)
from common.config.metrics_bind import TREASURY_DEFAULT as TREASURY_METRICS_DEFAULT, MetricsBind, metrics_bind
from common.config.smtp import SmtpSettings, load_smtp


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
    # Tests and the demo only (issue 12): refresh the coin rules and the address book this
    # often instead of every 5 min; allowed only against a loopback exchange.
    sandbox_rules_seconds: float | None = None
    # Issue 13 item 3: the operator wire (signed approvals from an operator's own machine),
    # a ROUTER apart from the clients' with its own CURVE allow-list. Both or neither.
    operator_bind: str | None = None
    operator_certs_dir: Path | None = None
    # Issue 14: /metrics, /healthz, /readyz (common/metrics_http.py); None: no listener.
    metrics_bind: MetricsBind | None = None
    # Issue 16 item 3: a second intent/event endpoint with the treasury's NEW CURVE key pair,
    # served beside the main one while clients move (common/config/curve_next.py); None: off.
    curve_next: CurveNext | None = None


def _operator_wire(env: Env) -> tuple[str | None, Path | None]:
    bind = env.get("TREASURY_OPERATOR_BIND")
    folder = env.path_of("TREASURY_OPERATOR_CERTS_DIR")
    if (bind is None) != (folder is None):
        raise ConfigError("TREASURY_OPERATOR_BIND and TREASURY_OPERATOR_CERTS_DIR go together: "
                          "set both (the operator wire) or neither")
    if bind is not None:
        check_endpoint("TREASURY_OPERATOR_BIND", bind)
    return bind, folder


def _sandbox_poll_seconds(env: Env, base_url: str) -> float | None:
    text = env.get("TREASURY_SANDBOX_POLL_SECONDS")
    if text is None:
        return None
    if not is_loopback_host(urlsplit(base_url).hostname or ""):
        raise ConfigError("TREASURY_SANDBOX_POLL_SECONDS is only allowed with a loopback BINANCE_BASE_URL (the sandbox)")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"TREASURY_SANDBOX_POLL_SECONDS must be a number, not {text!r}") from None
    if not 0.05 <= value <= 60:
        raise ConfigError("TREASURY_SANDBOX_POLL_SECONDS must be between 0.05 and 60")
    return value


def _sandbox_rules_seconds(env: Env, base_url: str) -> float | None:
    text = env.get("TREASURY_SANDBOX_RULES_SECONDS")
    if text is None:
        return None
    if not is_loopback_host(urlsplit(base_url).hostname or ""):
        raise ConfigError("TREASURY_SANDBOX_RULES_SECONDS is only allowed with a loopback BINANCE_BASE_URL (the sandbox)")
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"TREASURY_SANDBOX_RULES_SECONDS must be a number, not {text!r}") from None
    if not 0.5 <= value <= 300:
        raise ConfigError("TREASURY_SANDBOX_RULES_SECONDS must be between 0.5 and 300")
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
    if not is_loopback_host(urlsplit(base_url).hostname or ""):
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
    operator_bind, operator_certs_dir = _operator_wire(env)
    intent_endpoint = check_endpoint(
        "TREASURY_INTENT_ENDPOINT", env.get("TREASURY_INTENT_ENDPOINT", DEFAULT_INTENT_ENDPOINT))
    event_endpoint = check_endpoint(
        "TREASURY_EVENT_ENDPOINT", env.get("TREASURY_EVENT_ENDPOINT", DEFAULT_EVENT_ENDPOINT))
    return TreasurySettings(
        env_path=env.path,
        base_url=base_url,
        credentials=load_credentials(env, "TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_PRIVATE_KEY_FILE"),
        policy_file=env.require_path("TREASURY_POLICY_FILE", "treasury.toml"),
        ledger_path=env.require_path("TREASURY_LEDGER_PATH", "treasury-ledger.sqlite"),
        intent_endpoint=intent_endpoint,
        event_endpoint=event_endpoint,
        curve_secret_file=env.require_path("TREASURY_CURVE_SECRET_FILE"),
        authorized_clients_dir=env.require_path("TREASURY_AUTHORIZED_CLIENTS_DIR"),
        smtp=load_smtp(env),
        log_level=env.get("LOG_LEVEL"),
        log_format=env.get("LOG_FORMAT"),
        warnings=env.warnings,
        sandbox_poll_seconds=_sandbox_poll_seconds(env, base_url),
        sandbox_rules_seconds=_sandbox_rules_seconds(env, base_url),
        test_clock_offset_ms=test_offset_ms,
        test_clock_offset_file=test_offset_file,
        operator_bind=operator_bind,
        operator_certs_dir=operator_certs_dir,
        metrics_bind=metrics_bind(env, "TREASURY_METRICS_BIND", TREASURY_METRICS_DEFAULT),
        curve_next=curve_next(env, intent_endpoint, event_endpoint),
    )
