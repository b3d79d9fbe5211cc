"""The imperative shell: start-up (instance lock, audit, clock, rules), threads, and an orderly stop.

Threads: the webhook server (and its connection threads, which journal signals through
one shared connection: signal_bot/intake.py), the order worker (it owns the order desk:
one lock, under which exactly one thread at a time places orders - the worker while it
recovers what an earlier process left unfinished, then whichever of it and the webhook
threads takes the lock first; see OrderWorker), one sweep worker (the only one that
talks to the treasury's ROUTER), one event listener (the treasury's PUB feed). They share
nothing but queues and that lock; the journal, the desk, the sweeps each have their own
SQLite connection, the desk and the sweeps their own exchange client.
"""

from __future__ import annotations

import os
import queue
import signal as signals_module
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable

import requests

from common import binance
from common.clock import Clock, SystemClock
from common.config import SignalSettings
from common.curve import KeyPair
from common.intent_client import EventSubscriber, IntentClient
from common.logs import get_logger, mask_key
from signal_bot.audit import AuditError, audit_environment, audit_key, check_symbols
from signal_bot.config_file import SignalConfig
from signal_bot.events import EventListener
from signal_bot.instance_lock import InstanceLock, InstanceLocked
from signal_bot.intake import Intake
from signal_bot.orders import Handled, Journaled, OrderDesk
from signal_bot.prices import PriceSource
from signal_bot.risk import RiskLimits
from signal_bot.signals import Signal, SignalError, decode_json_object, parse_signal
from signal_bot.state import SignalRow, StateFileError, StateStore
from signal_bot.sweep import SweepWorker
from signal_bot.symbol_rules import SymbolRules
from signal_bot.webhook import WebhookServer

log = get_logger("signal.app")

STOP_BUDGET_SECONDS = 8.0     # SIGTERM to exit: DESIGN allows 10
RECONCILE_EVERY_SECONDS = 30.0


class StartupError(Exception):
    """The bot refuses to start; `code` is stable, the message one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Started:
    keys: KeyPair
    server_public: bytes
    client: binance.BinanceClient
    rules: dict[str, SymbolRules]


def start_up(settings: SignalSettings, config: SignalConfig, clock: Clock) -> Started:
    """Self-audit, clock sync and exchange rules; raises StartupError."""
    try:
        keys, server_public = audit_environment(settings)
    except AuditError as exc:
        raise StartupError(exc.code, exc.message) from None
    client = make_client(settings, clock)
    try:
        client.sync_time()
        audit_key(client.api_restrictions())
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


def exchange_session(base_url: str) -> requests.Session:
    """A requests session that reads its environment once, here, instead of on every request.

    With `trust_env` on, requests looks up the proxy variables (and ~/.netrc) again for
    each call: ~0.15 ms an order. The proxies that apply to `base_url` (NO_PROXY honoured)
    and a REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE are taken now; a netrc login is never used
    (the API key goes in its header). No retries below the client: a retried POST could
    trade twice.
    """
    session = requests.Session()
    session.trust_env = False
    proxies = requests.utils.get_environ_proxies(base_url)
    session.proxies.update({scheme: url for scheme, url in proxies.items() if scheme != "no"})
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    adapter = requests.adapters.HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def make_client(settings: SignalSettings, clock: Clock) -> binance.BinanceClient:
    return binance.BinanceClient(settings.base_url, settings.credentials.key, settings.credentials.secret,
                                 clock=clock, session=exchange_session(settings.base_url))


def _limits(config: SignalConfig) -> RiskLimits:
    return RiskLimits(frozenset(config.risk.symbols), config.risk.max_quote, config.risk.max_orders_per_minute,
                      config.orders.time_in_force)


def _sweep_worker(settings: SignalSettings, config: SignalConfig, started: Started, clock: Clock) -> SweepWorker:
    def make_exchange() -> binance.BinanceClient:
        client = make_client(settings, clock)
        client.sync_time()
        return client

    def make_intent_client() -> IntentClient:
        return IntentClient(settings.intent_endpoint, started.keys, started.server_public,
                            timeout=config.treasury.timeout_seconds, retries=config.treasury.retries)

    retry = config.sweep.retry_seconds if config.sweep else 30.0
    return SweepWorker(settings.state_path, config.sweep, make_exchange, make_intent_client, clock,
                       retry_seconds=retry)


class OrderWorker:
    """Places the orders: recovers what an earlier run left, then trades the queued signals.

    Trading happens under one lock (the desk's) by whichever thread takes it: usually the
    webhook thread that has just answered 202 (`run_queued`: the order goes out with no
    hand-off to another thread to wake), otherwise this worker's own thread, which drains
    the queue every POLL_SECONDS, runs the periodic reconciliation, and holds the lock
    through the start-up recovery. Signals leave the queue only in the lock holder's hands,
    so they trade one at a time, in arrival order. `start` returns once the unfinished rows
    are listed and the lock is taken: no new signal can trade before they are recovered.
    """

    POLL_SECONDS = 0.1

    def __init__(self, make_desk: Callable[[StateStore], OrderDesk], state_path: Path,
                 signals: "queue.SimpleQueue[Journaled]", clock: Clock, locked_at_ms: int) -> None:
        self._make_desk = make_desk
        self._state_path = state_path
        self._signals = signals
        self._clock = clock
        self._locked_at_ms = locked_at_ms
        self._desk_lock = threading.Lock()
        self._desk: OrderDesk | None = None       # set (lock held) once recovery is done
        self.recovered = threading.Event()         # set then too
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="orders", daemon=True)

    def start(self, timeout: float = 60.0) -> None:
        self._thread.start()
        self._ready.wait(timeout)
        if self._failed is not None:
            raise StartupError("state_unreadable", f"reading unfinished orders failed: {self._failed}")
        if not self._ready.is_set():
            raise StartupError("state_unreadable", "reading unfinished orders did not finish in time")

    def run_queued(self) -> None:
        """Trade what is queued, now, on the calling thread, unless the desk is busy (its holder will).

        After releasing, look again: a signal queued while we held the lock found it taken.
        """
        while not self._past_deadline() and self._desk_lock.acquire(blocking=False):
            try:
                if self._desk is None:      # still recovering, or stopped
                    return
                self._drain(self._desk)
            finally:
                self._desk_lock.release()
            if self._signals.empty():
                return

    def _run(self) -> None:
        self._desk_lock.acquire()
        try:
            store = StateStore(self._state_path, shared=True)   # used by whichever thread holds the lock
            desk = self._make_desk(store)
            unfinished = desk.unfinished()
        except Exception as exc:  # noqa: BLE001 - reported to start()
            self._failed = exc
            self._desk_lock.release()
            self._ready.set()
            return
        self._ready.set()
        try:
            if unfinished:
                recover_all(desk, unfinished, self._locked_at_ms + desk.settle_ms, self._stopping.wait)
            self._desk = desk
            self.recovered.set()
        finally:
            self._desk_lock.release()
        try:
            self._serve(desk)
        finally:
            with self._desk_lock:
                self._desk = None
                store.close()

    def _serve(self, desk: OrderDesk) -> None:
        next_reconcile = self._clock.monotonic() + RECONCILE_EVERY_SECONDS
        while not self._stopping.wait(self.POLL_SECONDS):
            with self._desk_lock:
                self._drain(desk)
                if self._clock.monotonic() >= next_reconcile:
                    desk.reconcile_pending()
                    next_reconcile = self._clock.monotonic() + RECONCILE_EVERY_SECONDS
        remaining = None if self._deadline is None else self._deadline - self._clock.monotonic()
        if remaining is not None and remaining > 0 and self._desk_lock.acquire(timeout=remaining):
            try:
                self._drain(desk)
            finally:
                self._desk_lock.release()

    def _drain(self, desk: OrderDesk) -> None:
        """Handle queued signals in order (the desk lock is held) until none is left or the stop deadline."""
        while not self._past_deadline():
            try:
                journaled = self._signals.get_nowait()
            except queue.Empty:
                return
            try:
                desk.handle(journaled)
            except Exception:  # noqa: BLE001 - one signal must not stop the desk
                log.error("signal_failed", id=journaled.signal.id, exc_info=True)

    def _past_deadline(self) -> bool:
        return self._deadline is not None and self._clock.monotonic() >= self._deadline

    def stop(self, budget: float) -> None:
        """Finish queued signals within `budget` seconds; what is left stays journaled for the next start."""
        self._deadline = self._clock.monotonic() + budget
        self._stopping.set()
        self._thread.join(budget + 0.5)
        left = []
        while True:
            try:
                left.append(self._signals.get_nowait().signal.id)
            except queue.Empty:
                break
        if left:
            log.warning("signals_deferred", count=len(left), ids=",".join(left[:50]),
                        detail="journaled; handled at the next start")
        if self._thread.is_alive():
            log.warning("order_in_flight_abandoned",
                        detail="an order request is still running; its id is looked up at the next start")


def recover_all(desk: OrderDesk, rows: list[SignalRow], settled_at_ms: int,
                wait: Callable[[float], bool]) -> list[Handled]:
    """Settle each row an earlier process left, in order; `wait(seconds)` returns True to stop early."""
    log.info("recovery_started", rows=len(rows), ids=",".join(r.id for r in rows[:50]))
    done = []
    for row in rows:
        attempt = 0
        while True:
            outcome = desk.recover(row, settled_at_ms, attempt)
            if isinstance(outcome, Handled):
                done.append(outcome)
                break
            attempt += 1
            log.info("recovery_waiting", id=row.id, state=row.state, seconds=round(outcome, 3))
            if wait(outcome):
                log.warning("recovery_interrupted", left=len(rows) - len(done))
                return done
    log.info("recovery_done", rows=len(rows), states=",".join(f"{h.signal_id}:{h.state}" for h in done[:50]))
    return done


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
        lock = InstanceLock(settings.state_path).acquire()
    except InstanceLocked as exc:
        raise StartupError(exc.code, str(exc)) from None
    return lock, clock.now_ms()


def _open_store(settings: SignalSettings, *, journal: bool = False) -> StateStore:
    try:
        return StateStore(settings.state_path, shared=journal, autocheckpoint=not journal)
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
    lock, locked_at_ms = _lock_state(settings, clock)
    try:
        return _serve(settings, config, dry_run, clock, stop, flag, locked_at_ms)
    finally:
        lock.release()


def _serve(settings: SignalSettings, config: SignalConfig, dry_run: bool, clock: Clock, stop: threading.Event,
           flag: _StopFlag, locked_at_ms: int) -> int:
    started = start_up(settings, config, clock)
    intake = Intake(_open_store(settings, journal=True), "test" if dry_run else "live",
                    config.webhook.queue_size, clock)
    sweeper = _sweep_worker(settings, config, started, clock)
    prices = PriceSource(started.client.ticker_price)

    def make_desk(store: StateStore) -> OrderDesk:
        return OrderDesk(started.client, store, started.rules, _limits(config), clock, dry_run=dry_run,
                         last_price=prices.last_price, on_fill=sweeper.after_fill,
                         recv_window_ms=started.client.recv_window_ms,
                         max_signal_age_ms=config.orders.max_signal_age_seconds * 1000)

    orders = OrderWorker(make_desk, settings.state_path, intake.queue, clock, locked_at_ms)
    orders.start()
    sweeper.start()
    events = EventListener(lambda: EventSubscriber(settings.event_endpoint, started.keys, started.server_public),
                           on_event=sweeper.on_event).start()
    try:
        server = WebhookServer(settings.webhook_host, settings.webhook_port, settings.webhook_secret,
                               intake.submit, after_accept=orders.run_queued).start()
    except OSError as exc:
        orders.stop(1.0)
        sweeper.stop(1.0)
        events.stop(1.0)
        raise StartupError("bind_failed", f"SIGNAL_WEBHOOK_BIND {settings.webhook_host}:{settings.webhook_port}: "
                                          f"{exc.strerror}") from None
    log.info("signal_bot_started", webhook=f"http://{settings.webhook_host}:{server.port}/signal",
             dry_run=dry_run, symbols=",".join(config.risk.symbols), api_key=mask_key(settings.credentials.key),
             sweep=bool(config.sweep), treasury=settings.intent_endpoint)
    while not stop.wait(0.5):
        pass
    log.info("signal_bot_stopping", signal=flag.signal_name or "stop")
    begun = clock.monotonic()
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
    sweeper = _sweep_worker(settings, config, started, clock)
    prices = PriceSource(started.client.ticker_price)
    store = _open_store(settings)
    desk = OrderDesk(started.client, store, started.rules, _limits(config), clock, dry_run=dry_run,
                     last_price=prices.last_price, on_fill=sweeper.after_fill,
                     recv_window_ms=started.client.recv_window_ms,
                     max_signal_age_ms=config.orders.max_signal_age_seconds * 1000)
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
