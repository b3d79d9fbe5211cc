"""The imperative shell: start-up (instance lock, audit, clock, rules), threads, and an orderly stop.

The objects are built by signal_bot/bootstrap.py (building does no I/O); this module
runs the start steps in order, starts them, serves, and stops them.

Threads: the webhook server (and its connection threads, which journal signals through
one shared connection: signal_bot/intake.py), the order worker (it owns the order desk:
one lock, under which exactly one thread at a time places orders - the worker while it
recovers what an earlier process left unfinished, then whichever of it and the webhook
threads takes the lock first; see signal_bot/order_worker.py), one sweep worker (the only one that
talks to the treasury's ROUTER), one event listener (the treasury's PUB feed). They share
nothing but queues and that lock; the journal, the desk, the sweeps each have their own
SQLite connection, the desk and the sweeps their own exchange client.
"""

from __future__ import annotations

import signal as signals_module
import sys
import threading
from typing import IO, Any, Iterable

from common import binance
from common.clock import Clock, SystemClock
from common.config import SignalSettings
from common.logs import get_logger, mask_key
from signal_bot import bootstrap
from common.key_hygiene import key_hygiene
from signal_bot.audit import AuditError, audit_environment, audit_key, check_symbols
from signal_bot.bootstrap import Started
from signal_bot.config_file import SignalConfig
from signal_bot.errors import StartupError
from signal_bot.instance_lock import InstanceLock, InstanceLocked
from signal_bot.order_worker import recover_all
from signal_bot.signals import Signal, SignalError, decode_json_object, parse_signal
from signal_bot.state import StateStore
from signal_bot.state_schema import StateFileError

__all__ = ["StartupError", "Started", "read_signals", "replay", "run", "start_up"]

log = get_logger("signal.app")

STOP_BUDGET_SECONDS = 8.0     # SIGTERM to exit: docs/design.md section 7a allows 10


def start_up(settings: SignalSettings, config: SignalConfig, clock: Clock) -> Started:
    """Self-audit, clock sync and exchange rules; raises StartupError."""
    try:
        keys, server_public = audit_environment(settings)
    except AuditError as exc:
        raise StartupError(exc.code, exc.message) from None
    client = bootstrap.make_client(settings, clock)
    try:
        offset = client.sync_time()
        restrictions = client.api_restrictions()
        for warning in audit_key(restrictions):
            (log.error if warning.loud else log.warning)("key_warning", code=warning.code,
                                                        detail=warning.message)
        # Issue 16 item 2: an old key (signal.toml [keys] rotate_after_days) or an expiring
        # trading right, said at every start (common/key_hygiene.py).
        for hygiene in key_hygiene(restrictions, clock.now_ms() + (offset or 0), config.keys.rotate_after_days,
                                   who="SIGNAL_API_KEY"):
            log.warning("key_hygiene", code=hygiene.code, detail=hygiene.detail)
        symbols = list(config.risk.symbols)
        rules = check_symbols(_symbol_infos(client, symbols), symbols)
    except AuditError as exc:
        client.close()
        raise StartupError(exc.code, exc.message) from None
    except binance.ExchangeError as exc:
        client.close()
        raise StartupError(exc.code, f"exchange self-audit failed: {exc}") from None
    return Started(keys, server_public, client, rules)


def _symbol_infos(client: binance.BinanceClient, symbols: list[str]) -> list[Any]:
    try:
        return client.exchange_info(symbols).symbols
    except binance.ExchangeRequestError:
        # Binance refuses the whole list (-1121) for one unknown symbol: find which.
        found = []
        for symbol in symbols:
            try:
                found.extend(client.exchange_info([symbol]).symbols)
            except binance.ExchangeRequestError:
                continue
        return found


class _StopFlag:
    """SIGTERM/SIGINT set an event the main thread waits on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name: str | None = None

    def install(self) -> None:
        for sig in (signals_module.SIGTERM, signals_module.SIGINT):
            signals_module.signal(sig, self._handler)

    def _handler(self, signum: int, frame: Any) -> None:
        self.signal_name = signals_module.Signals(signum).name
        self.event.set()


def _lock_state(settings: SignalSettings, clock: Clock) -> tuple[InstanceLock, int]:
    """Take the state file's instance lock; also the moment from which the earlier process's requests age."""
    try:
        lock = bootstrap.instance_lock(settings).acquire()
    except InstanceLocked as exc:
        raise StartupError(exc.code, str(exc)) from None
    return lock, clock.now_ms()


def _open(store: StateStore) -> StateStore:
    try:
        return store.open()
    except StateFileError as exc:
        raise StartupError(exc.code, str(exc)) from None


def run(settings: SignalSettings, config: SignalConfig, *, dry_run: bool = False,
        clock: Clock | None = None, stop: threading.Event | None = None) -> int:
    """`signal-bot run`: serve the webhook until SIGTERM/SIGINT (or `stop`), then exit 0."""
    clock = clock or SystemClock()
    flag = _StopFlag()
    if stop is None:
        flag.install()
        stop = flag.event
    if threading.current_thread() is threading.main_thread():
        # Issue 16: a SIGHUP during the start is kept (its default would kill the process).
        signals_module.signal(signals_module.SIGHUP, lambda _signum, _frame: _EARLY_RELOAD.set())
    lock, locked_at_ms = _lock_state(settings, clock)
    try:
        return _serve(settings, config, dry_run, clock, stop, flag, locked_at_ms)
    finally:
        lock.release()


def _serve(settings: SignalSettings, config: SignalConfig, dry_run: bool, clock: Clock, stop: threading.Event,
           flag: _StopFlag, locked_at_ms: int) -> int:
    started = start_up(settings, config, clock)
    bot = bootstrap.build_run(settings, config, started, clock, dry_run=dry_run, locked_at_ms=locked_at_ms)
    _open(bot.journal)
    intake, orders, sweeper, events, server = bot.intake, bot.orders, bot.sweeper, bot.events, bot.server
    orders.start()
    sweeper.start()
    events.start()
    try:
        server.start()
    except OSError as exc:
        orders.stop(1.0)
        sweeper.stop(1.0)
        events.stop(1.0)
        raise StartupError("bind_failed", f"SIGNAL_WEBHOOK_BIND {settings.webhook_host}:{settings.webhook_port}: "
                                          f"{exc.strerror}") from None
    metrics_server, heartbeat = start_metrics(settings, bot, started, clock)
    log.info("signal_bot_started", webhook=f"http://{settings.webhook_host}:{server.port}/signal",
             dry_run=dry_run, symbols=",".join(config.risk.symbols), api_key=mask_key(settings.credentials.key),
             sweep=bool(config.sweep), treasury=settings.intent_endpoint)
    reloader = _install_reload(settings, bot, started)
    heartbeat.beat()
    while not stop.wait(0.5):
        heartbeat.beat()
        if reloader is not None:
            reloader.between_waits()
    log.info("signal_bot_stopping", signal=flag.signal_name or "stop")
    begun = clock.monotonic()
    if metrics_server is not None:
        metrics_server.stop()
    server.stop()
    intake.close()
    orders.stop(budget=4.0)
    remaining = max(0.5, STOP_BUDGET_SECONDS - (clock.monotonic() - begun) - 1.0)
    if not sweeper.stop(timeout=remaining):
        log.warning("sweep_in_flight_abandoned", detail="an intent request was running; it is resent at start")
    events.stop(timeout=1.0)
    started.client.close()
    log.info("signal_bot_stopped", seconds=round(clock.monotonic() - begun, 3))
    return 0


def _install_reload(settings: SignalSettings, bot: Any, started: Started):
    """Issue 16: SIGHUP re-reads the webhook secret and signal.toml (signal_bot/reload.py);
    only on the main thread (an embedded run, as in tests, has no signal handlers)."""
    from signal_bot.reload import SignalReloader
    if threading.current_thread() is not threading.main_thread():
        return None
    reloader = SignalReloader(settings, bot.server, bot.desk, set(started.rules))
    signals_module.signal(signals_module.SIGHUP, lambda _signum, _frame: reloader.request())
    if _EARLY_RELOAD.is_set():
        _EARLY_RELOAD.clear()
        reloader.request()
    return reloader


_EARLY_RELOAD = threading.Event()


def start_metrics(settings: SignalSettings, bot: Any, started: Started, clock: Clock):
    """Issue 14: /metrics, /healthz, /readyz (signal_bot/metrics.py). Returns (server or None,
    the main loop's heartbeat)."""
    from signal_bot import metrics
    figures = metrics.SignalMetrics(state_path=settings.state_path, webhook_counts=bot.server.counts,
                                    monotonic=clock.monotonic, ping=_own_client_ping(settings, clock))
    listener = metrics.start(settings, figures)
    if listener is not None:  # no listener, no counting on the order path either
        bot.desk.on_handled = figures.on_handled
    return listener, figures.heartbeat


def _own_client_ping(settings: SignalSettings, clock: Clock):
    """/readyz's ping, on a client of its own (made at the first ping): the desk's client
    holds its lock for a whole request, and a probe must never delay an order."""
    made: list[binance.BinanceClient] = []

    def ping() -> None:
        if not made:
            made.append(bootstrap.make_client(settings, clock))
        made[0].ping()
    return ping


def read_signals(lines: Iterable[str]) -> Iterable[tuple[int, Signal | SignalError]]:
    """JSON lines -> (line number, Signal or the error); blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, parse_signal(decode_json_object(line))
        except SignalError as exc:
            yield number, exc


def replay(settings: SignalSettings, config: SignalConfig, source: IO[str], *, dry_run: bool = False,
           clock: Clock | None = None, err: IO[str] = sys.stderr) -> int:
    """`signal-bot replay`: each good line becomes a signal; a bad line is reported and skipped.

    Exit status: 0 when every line was a signal, 1 when some were skipped.
    """
    clock = clock or SystemClock()
    flag = _StopFlag()
    flag.install()
    lock, locked_at_ms = _lock_state(settings, clock)
    try:
        return _replay(settings, config, source, dry_run, clock, err, flag, locked_at_ms)
    finally:
        lock.release()


def _replay(settings: SignalSettings, config: SignalConfig, source: IO[str], dry_run: bool, clock: Clock,
            err: IO[str], flag: _StopFlag, locked_at_ms: int) -> int:
    started = start_up(settings, config, clock)
    bot = bootstrap.build_replay(settings, config, started, clock, dry_run=dry_run)
    store, sweeper, desk = _open(bot.store), bot.sweeper, bot.desk
    sweeper.start()
    good = bad = 0
    try:
        unfinished = desk.unfinished()
        if unfinished:
            def wait(seconds: float) -> bool:
                return flag.event.wait(seconds)
            recover_all(desk, unfinished, locked_at_ms + desk.settle_ms, wait)
        for number, item in read_signals(source):
            if flag.event.is_set():
                break
            if isinstance(item, SignalError):
                bad += 1
                where = f" ({item.field})" if item.field else ""
                print(f"line {number}: skipped{where}: {item.detail}", file=err)
                log.warning("replay_line_skipped", line=number, field=item.field, detail=item.detail)
                continue
            good += 1
            journaled = desk.accept(item)      # committed (fsync) first, like a webhook 202
            if journaled is not None:
                desk.handle(journaled)
    finally:
        store.close()
        budget = config.treasury.timeout_seconds * config.treasury.retries + 5
        if not flag.event.is_set():
            sweeper.wait_idle(budget)
        sweeper.stop(timeout=budget)
        started.client.close()
    log.info("replay_done", signals=good, skipped=bad)
    print(f"replay: {good} signal(s), {bad} bad line(s) skipped", file=err)
    return 1 if bad else 0
