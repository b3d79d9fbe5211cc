"""The signal bot's Prometheus metrics (issue 14), on its own CollectorRegistry.

- Read at scrape time (nothing on a hot path): webhook requests by HTTP answer (the
  webhook server's own counts), signals by state and mode, orders by the exchange's status,
  sweeps by state and treasury status, and the treasury link (sweeps left unanswered) from
  the state file on a read-only connection opened per scrape. `state_families` is pure.
- Counted in process: signals handled by outcome and the order latency histogram (from the
  signal's journal commit, just after the webhook received it, to the exchange's answer:
  OrderDesk.on_handled), exchange requests by endpoint and result and the used-weight
  headers (common/binance/observe.py).

Prefix `signal_bot_`; naming as in treasury_bot/metrics.py (https://prometheus.io/docs/practices/naming/).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from common import __version__
from common.binance import observe
from common.heartbeat import Heartbeat
from common.logs import get_logger
from common.metrics_http import Check, HealthRoutes, heartbeat_check

log = get_logger("signal.metrics")

PREFIX = "signal_bot"
ORDER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIGNAL_STATES = ("received", "placing", "placed", "rejected", "failed", "refused")  # signal_bot/state_schema.py
SWEEP_STATES = ("unsent", "decided", "stale", "invalid")
UNANSWERED = ("treasury_unavailable", "treasury_internal_error")  # signal_bot/sweep.py's last_error
ANSWERED_STATES = ("placed", "rejected", "failed")                # the exchange answered (or refused)
LOOP_STALE_S = 10.0
EXCHANGE_FRESH_S = 120.0     # /readyz: an answer this recent counts; else a ping (cached PING_EVERY_S)
PING_EVERY_S = 30.0


@dataclass(frozen=True)
class StateSnapshot:
    signals: Mapping[tuple[str, str], int]      # (mode, state) -> count
    orders: Mapping[tuple[str, str], int]       # (mode, order_status) -> count
    sweeps: Mapping[tuple[str, str], int]       # (state, treasury status or "") -> count
    unanswered_sweeps: int


def state_families(s: StateSnapshot, webhook_counts: Mapping[int, int]) -> list:
    """Pure: the metric families of one scrape."""
    webhook = CounterMetricFamily(f"{PREFIX}_webhook_requests", "Webhook requests by HTTP answer.", labels=["code"])
    for code, n in sorted(webhook_counts.items()):
        webhook.add_metric([str(code)], n)
    signals = GaugeMetricFamily(f"{PREFIX}_signals", "Journaled signals by state and mode (live, test).",
                                labels=["mode", "state"])
    modes = sorted({m for m, _ in s.signals} | {"live"})
    for mode in modes:
        for state in SIGNAL_STATES:
            signals.add_metric([mode, state], s.signals.get((mode, state), 0))
    orders = GaugeMetricFamily(f"{PREFIX}_orders", "Orders by the exchange's status and mode.",
                               labels=["mode", "status"])
    for (mode, status), n in sorted(s.orders.items()):
        orders.add_metric([mode, status], n)
    sweeps = GaugeMetricFamily(f"{PREFIX}_sweeps", "Sweep intents by state and the treasury's status.",
                               labels=["state", "status"])
    for state in SWEEP_STATES:
        statuses = sorted({st for (sw, st) in s.sweeps if sw == state}) or [""]
        for status in statuses:
            sweeps.add_metric([state, status], s.sweeps.get((state, status), 0))
    unanswered = GaugeMetricFamily(f"{PREFIX}_treasury_unanswered_sweeps",
                                   "Unsent sweeps whose last try found the treasury unavailable.",
                                   value=s.unanswered_sweeps)
    link = GaugeMetricFamily(f"{PREFIX}_treasury_link_up", "1 unless a sweep's last try went unanswered.",
                             value=0.0 if s.unanswered_sweeps else 1.0)
    return [webhook, signals, orders, sweeps, unanswered, link]


def read_state(path: Path) -> StateSnapshot:
    """One scrape's reads on a read-only connection (never creates the file)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    try:
        signals = {(m, st): n for m, st, n in conn.execute("SELECT mode, state, COUNT(*) FROM signals GROUP BY 1, 2")}
        orders = {(m, st): n for m, st, n in conn.execute(
            "SELECT mode, order_status, COUNT(*) FROM signals WHERE order_status IS NOT NULL GROUP BY 1, 2")}
        sweeps = {(st, status): n for st, status, n in conn.execute(
            "SELECT state, COALESCE(status, ''), COUNT(*) FROM sweeps GROUP BY 1, 2")}
        marks = ",".join("?" * len(UNANSWERED))
        unanswered = conn.execute(f"SELECT COUNT(*) FROM sweeps WHERE state = 'unsent' AND last_error IN ({marks})",
                                  UNANSWERED).fetchone()[0]
    finally:
        conn.close()
    return StateSnapshot(signals, orders, sweeps, int(unanswered))


class StateCollector(Collector):
    def __init__(self, state_path: Path, webhook_counts: Callable[[], Mapping[int, int]]) -> None:
        self._path = Path(state_path)
        self._webhook_counts = webhook_counts

    def collect(self) -> Iterable:
        up = GaugeMetricFamily(f"{PREFIX}_state_readable", "1 when this scrape could read the state file.")
        try:
            snap = read_state(self._path)
        except sqlite3.Error as exc:
            log.warning("metrics_state_read_failed", error=type(exc).__name__, detail=str(exc)[:200])
            up.add_metric([], 0.0)
            return [up]
        up.add_metric([], 1.0)
        return [up, *state_families(snap, self._webhook_counts())]

    def describe(self) -> Iterable:
        return []  # the registry must not read the file when this collector is registered


class _WeightCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._weights: dict[str, int] = {}

    def update(self, weights: Mapping[str, int]) -> None:
        with self._lock:
            self._weights.update(weights)

    def collect(self) -> Iterable:
        family = GaugeMetricFamily(f"{PREFIX}_exchange_used_weight",
                                   "Last used weight / order count the exchange reported, by header.", labels=["header"])
        with self._lock:
            for header, value in sorted(self._weights.items()):
                family.add_metric([header], float(value))
        return [family]

    def describe(self) -> Iterable:
        return []


class SignalMetrics:
    def __init__(self, *, state_path: Path, webhook_counts: Callable[[], Mapping[int, int]],
                 monotonic: Callable[[], float], ping: Callable[[], None] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info(PREFIX, "The signal bot's version.", registry=r).info({"version": __version__})
        self.handled = Counter(f"{PREFIX}_signals_handled", "Signals the order desk finished, by outcome.",
                               ["outcome"], registry=r)
        self.order_seconds = Histogram(f"{PREFIX}_order_seconds",
                                       "From the signal's journal commit (webhook received) to the exchange's answer.",
                                       buckets=ORDER_BUCKETS, registry=r)
        self.exchange_requests = Counter(f"{PREFIX}_exchange_requests", "Exchange requests by endpoint and result.",
                                         ["endpoint", "result"], registry=r)
        self.weights = _WeightCollector()
        r.register(self.weights)
        r.register(StateCollector(state_path, webhook_counts))
        self.heartbeat = Heartbeat(monotonic)
        self._state_path = Path(state_path)
        self._monotonic = monotonic
        self._ping = ping
        self._exchange_at: float | None = None
        self._pinged_at: float | None = None
        self._ping_lock = threading.Lock()

    def on_handled(self, handled, seconds: float) -> None:
        """OrderDesk calls this once per signal it finished."""
        self.handled.labels(handled.state).inc()
        if handled.state in ANSWERED_STATES:
            self.order_seconds.observe(seconds)

    def on_exchange(self, endpoint: str, result: str, weights: Mapping[str, int]) -> None:
        self.exchange_requests.labels(endpoint, result).inc()
        if weights:
            self.weights.update(weights)
        if result not in ("transport", "exchange_unavailable"):
            self._exchange_at = self._monotonic()

    def alive(self) -> list[Check]:
        return [heartbeat_check("main_loop", self.heartbeat, LOOP_STALE_S)]

    def ready(self) -> list[Check]:
        return [self._exchange_check(), _state_writable(self._state_path)]

    def _exchange_check(self) -> Check:
        """Reachable when it answered within EXCHANGE_FRESH_S; else one ping, at most every
        PING_EVERY_S (the signal bot may be idle for hours: no orders, no requests)."""
        now = self._monotonic()
        if self._exchange_at is not None and now - self._exchange_at <= EXCHANGE_FRESH_S:
            return Check("exchange", True, f"answered {now - self._exchange_at:.1f} s ago")
        if self._ping is not None:
            with self._ping_lock:
                if self._pinged_at is None or now - self._pinged_at >= PING_EVERY_S:
                    self._pinged_at = now
                    try:
                        self._ping()
                    except Exception as exc:
                        return Check("exchange", False, f"ping failed: {getattr(exc, 'code', type(exc).__name__)}")
                    self._exchange_at = now
                    return Check("exchange", True, "answered a ping")
        return Check("exchange", False, "no answer from the exchange recently")

    def health(self) -> HealthRoutes:
        return HealthRoutes(alive=self.alive, ready=self.ready)

    def install(self) -> None:
        observe.set_observer(self.on_exchange)


def _state_writable(path: Path) -> Check:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=2.0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Check("state_writable", False, f"{type(exc).__name__}: {exc}")
    return Check("state_writable", True)


def start(settings, metrics: SignalMetrics):
    """The listener on SIGNAL_METRICS_BIND (common/metrics_http.start_listener); None when off."""
    from common.metrics_http import start_listener
    return start_listener(settings.metrics_bind, metrics, "SIGNAL_METRICS_BIND", log)
