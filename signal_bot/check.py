"""`signal-bot check`: a doctor like `treasuryctl check`. Env file, CURVE keys and treasury
secrets, config file, state file, the exchange (clock, the key's rights, the symbols) and
the treasury link, one OK/WARN/FAIL line each. Exit status 0 when no line is FAIL, else 1
(a WARN, e.g. a key without an IP restriction, is said but does not fail: the bot runs).

Nothing here changes anything: the state file is read read-only, the exchange calls are
reads, and the treasury is only pinged (one try, short timeout).
"""

from __future__ import annotations

from decimal import Decimal

from typing import Iterable

from common import binance
from common.binance.key_refusal import diagnose_read
from common.clock import SystemClock
from common.key_hygiene import DEFAULT_ROTATE_AFTER_DAYS
from common.config import ConfigError, SignalSettings, load_signal_settings
from common.intent_client import TreasuryUnavailable
from common.logs import mask_key
from signal_bot import bootstrap, state
from signal_bot.audit import AuditError, audit_environment, audit_key, check_symbols
from signal_bot.config_file import SignalConfig, Treasury, load_config
from signal_bot.state_schema import StateFileError

OK, WARN, FAIL = "OK", "WARN", "FAIL"
EXIT_OK, EXIT_FAIL = 0, 1
PING_TIMEOUT_S = 2.0

Line = tuple[str, str, str]


def run_check(env_file: str | None) -> int:
    lines: list[Line] = []
    try:
        settings = load_signal_settings(env_file)
    except ConfigError as exc:
        return print_lines([(FAIL, "env", str(exc))])
    lines.append((OK, "env", f"{settings.env_path or '(environment only)'} "
                             f"(key {mask_key(settings.credentials.key)})"))
    lines.append((OK, "api key type", settings.credentials.describe("signal-bot keys binance")))
    lines.extend((FAIL, "env mode", warning) for warning in settings.warnings)
    keys = None
    try:
        keys = audit_environment(settings)
        lines.append((OK, "curve keys", f"{settings.curve_secret_file}; treasury's public key "
                                        f"{settings.treasury_public_file}"))
    except AuditError as exc:
        lines.append((FAIL, "curve keys", f"{exc.code}: {exc.message}"))
    config = None
    try:
        config = load_config(settings.config_file)
        lines.append((OK, "config", f"{settings.config_file}: {len(config.risk.symbols)} symbol(s)"))
        lines.append(webhook_line(settings.webhook_host, config))
    except (ConfigError, ValueError) as exc:
        lines.append((FAIL, "config", str(exc)))
    try:
        lines.append((OK, "state", state.describe(settings.state_path)))
    except StateFileError as exc:
        lines.append((FAIL, "state", str(exc)))
    lines.extend(exchange_lines(settings, config))
    if keys is not None:
        lines.append(treasury_line(settings, *keys))
    return print_lines(lines)


def webhook_line(host: str, config: SignalConfig) -> Line:
    """The feed profile and who may call (issue 15). WARN: an allow-list on a loopback bind
    with no trusted proxy refuses every call that comes through a local front."""
    access = config.access
    callers = ", ".join(access.allow) if access.allow else "any address (no [access] allow)"
    text = (f"profile {config.feed.profile}; callers: {callers}; "
            f"X-Forwarded-For from: {', '.join(access.trusted_proxies) or 'nobody'}")
    if access.allow and not access.trusted_proxies and host in ("127.0.0.1", "::1", "localhost"):
        return (WARN, "webhook", text + " - behind a local front every caller is 127.0.0.1: "
                                         "add it to [access] trusted_proxies")
    return (OK, "webhook", text)


def exchange_lines(settings: SignalSettings, config: SignalConfig | None) -> list[Line]:
    client = bootstrap.make_client(settings, SystemClock())
    try:
        offset = client.sync_time()
        lines: list[Line] = [(OK, "exchange clock", f"offset {offset} ms from {settings.base_url}")]
        restrictions = client.api_restrictions()
        try:
            warnings = audit_key(restrictions)
        except AuditError as exc:
            return lines + [(FAIL, "exchange key", f"{exc.code}: {exc.message}")]
        lines.append((OK, "exchange key", "can trade spot; cannot withdraw or transfer"))
        lines.extend((WARN, "exchange key", warning.message) for warning in warnings)
        lines.extend(key_age_lines(restrictions, config, offset))
        if config is not None:
            symbols = list(config.risk.symbols)
            try:
                check_symbols(client.exchange_info(symbols).symbols, symbols)
                lines.append((OK, "symbols", ", ".join(symbols) + " trading"))
            except AuditError as exc:
                lines.append((FAIL, "symbols", exc.message))
            except binance.ExchangeRequestError as exc:  # -1121: one of them is unknown
                lines.append((FAIL, "symbols", f"risk.symbols: {exc.message}"))
            if config.sweep is not None:
                lines.append(sweep_wallet_line(client, config.sweep))
        return lines
    except binance.AuthError as exc:  # the key itself: which cause, and what to do
        diagnosis = diagnose_read(exc, key_env="SIGNAL_API_KEY")
        return [(FAIL, "exchange key", f"{diagnosis.what}. Fix: {diagnosis.fix}")]
    except binance.ExchangeError as exc:
        return [(FAIL, "exchange", str(exc))]
    finally:
        client.close()


def key_age_lines(restrictions, config: SignalConfig | None, offset_ms: int) -> list[Line]:
    """Issue 16 item 2 (common/key_hygiene.py): WARN when SIGNAL_API_KEY is older than
    signal.toml's [keys] rotate_after_days or its trading right expires within 14 days."""
    import time

    from common.key_hygiene import age_line, key_hygiene
    days = config.keys.rotate_after_days if config is not None else DEFAULT_ROTATE_AFTER_DAYS
    now_ms = int(time.time() * 1000) + offset_ms
    warnings = key_hygiene(restrictions, now_ms, days, who="SIGNAL_API_KEY")
    if not warnings:
        return [(OK, "key age", f"{age_line(restrictions, now_ms)}; rotate after {days} days")]
    return [(WARN, "key age", warning.detail) for warning in warnings]


def sweep_wallet_line(client, sweep) -> Line:
    """Issue 12 item 1: the wallet the sweep is sized from, and what it holds above `keep`."""
    free = client.free_in_wallet(sweep.asset, sweep.wallet)
    above = free - Decimal(sweep.keep)
    return (OK, "sweep wallet", f"{sweep.asset} free {free} in {sweep.wallet} (keep {sweep.keep}; "
                                f"{max(above, Decimal(0))} above it); it must be the wallet of the "
                                f"treasury's {sweep.destination}")


def treasury_line(settings: SignalSettings, keys, server_public: bytes) -> Line:
    """One ping, one try: the treasury up, reachable and admitting our CURVE key."""
    client = bootstrap.intent_client(settings, keys, server_public,
                                     Treasury(timeout_seconds=PING_TIMEOUT_S, retries=1))
    try:
        client.ping()
    except TreasuryUnavailable:
        return (FAIL, "treasury", f"no answer from {settings.intent_endpoint} within {PING_TIMEOUT_S:g} s "
                                  "(treasury down, unreachable, or this bot's CURVE public key is not in "
                                  "its TREASURY_AUTHORIZED_CLIENTS_DIR)")
    finally:
        client.close()
    return (OK, "treasury", f"{settings.intent_endpoint} answered a ping")


def print_lines(lines: Iterable[Line]) -> int:
    lines = list(lines)
    for level, name, detail in lines:
        print(f"{level:<4} {name:<24} {detail}")
    return EXIT_OK if all(level != FAIL for level, _, _ in lines) else EXIT_FAIL
