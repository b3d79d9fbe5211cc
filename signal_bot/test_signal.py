"""`signal-bot test-signal FILE`: what one webhook body would become, without trading (issue 15 item 6).

The body goes through the webhook's own judge (signal_bot/webhook.py `judge_body`) under
signal.toml's `[feed]` profile, then, when the exchange can be asked, through the risk
plan (signal_bot/risk.py `plan_order`) with the symbol's rules from exchangeInfo and its
last price: public reads only. No order is placed, the state file is never opened (no
lock, no journal row), so a duplicate of a journaled id is not detected here.
Prints one JSON object; exit 0 when the body becomes an order (or a signal, offline),
1 when it is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

import msgspec

from common import binance
from common.clock import SystemClock
from common.config import ConfigError, load_signal_settings
from signal_bot import bootstrap
from signal_bot.audit import AuditError, check_symbols
from signal_bot.config_file import SignalConfig, load_config
from signal_bot.risk import Refusal, plan_order
from signal_bot.webhook import Answer, judge_body

EXIT_ORDER, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


def run_test_signal(file: str, env_file: str | None, config_path: str | None, *, offline: bool = False,
                    out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        body = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        print(f"signal-bot test-signal: cannot read {file}: {exc.strerror}", file=err)
        return EXIT_UNUSABLE
    settings, notes = None, []
    try:
        settings = load_signal_settings(env_file)
    except (ConfigError, ValueError) as exc:
        notes.append(f"no settings ({str(exc)[:160]}): passphrase not checked, order not rounded")
    try:
        path = Path(config_path) if config_path else (settings.config_file if settings else Path("signal.toml"))
        config = load_config(path)
    except ConfigError as exc:
        print(f"signal-bot test-signal: {exc}", file=err)
        return EXIT_UNUSABLE
    profile = config.feed.profile_rules()
    secret = settings.webhook_secret if settings else ""
    judged = judge_body(body, None, secret, profile, check_secret=settings is not None)
    report: dict[str, Any] = {"profile": profile.name}
    if notes:
        report["notes"] = notes
    if isinstance(judged, Answer):
        report["refused"] = {"status": judged.status, **judged.body}
        return _print(report, out, EXIT_REFUSED)
    signal = judged.signal
    report["signal"] = {k: v for k, v in msgspec.to_builtins(signal).items() if v is not None}
    report["client_order_id"] = signal.client_order_id
    if judged.dedupe is not None:
        report["id_from"] = "body_hash"
        report["dedupe_window_seconds"] = judged.dedupe.window_seconds
    if offline or settings is None:
        report["order"] = None
        return _print(report, out, EXIT_ORDER)
    return _print(report, out, _round(report, signal, config, settings))


def _round(report: dict[str, Any], signal: Any, config: SignalConfig, settings: Any) -> int:
    """The order as the desk would send it, or the refusal; public exchange reads only."""
    client = bootstrap.make_client(settings, SystemClock())
    try:
        allowed = list(config.risk.symbols)
        if signal.symbol not in allowed:
            rules = {}
        else:
            infos = client.exchange_info([signal.symbol]).symbols
            rules = check_symbols(infos, [signal.symbol])
        price = None
        if signal.type == "MARKET" and signal.quantity is not None and signal.symbol in rules:
            price = client.ticker_price(signal.symbol)
    except (binance.ExchangeError, AuditError) as exc:
        report["order"] = None
        report.setdefault("notes", []).append(f"exchange not asked: {exc}")
        return EXIT_ORDER
    finally:
        client.close()
    plan = plan_order(signal, rules.get(signal.symbol), bootstrap.limits(config), price)
    if isinstance(plan, Refusal):
        report["refused"] = {"reason_code": plan.code, "detail": plan.detail}
        return EXIT_REFUSED
    report["order"] = {**plan.describe(), "newClientOrderId": plan.client_order_id,
                       "notional": format(plan.notional, "f")}
    return EXIT_ORDER


def _print(report: dict[str, Any], out: IO[str], status: int) -> int:
    print(json.dumps(report, indent=2, sort_keys=True), file=out)
    return status
