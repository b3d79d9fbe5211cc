"""The treasury's Prometheus metrics (issue 14), on its own CollectorRegistry.

Two kinds of figure:

- Read from the ledger at scrape time by `LedgerCollector` (nothing on a hot path): open
  intents by status and the oldest one's age, pending approvals, stalled intents, window
  usage ratio per coin, withdrawals by final status, the alert outbox (depth, oldest unsent
  age, mails sent), the freeze with its reason label (`freeze.BREAKERS` + "operator", a
  fixed set) and the executor halt, the last successful poll, the clock offset the clock
  watch measured, ledger size and free disk. `snapshot_families` turns a `Snapshot` into
  metric families and is pure (tests/unit).
- Counted in process, cheaply: decisions by outcome and reason code and the decision
  latency histogram (one `labels().inc()` and one `observe()` per decision, after the
  replies are sent: IntentServer.on_decided), exchange requests by endpoint and result
  and the used-weight headers (common/binance/observe.py).

Names follow https://prometheus.io/docs/practices/naming/ : prefix `treasury_`, base units
(seconds, bytes, ratios), `_total` counters, `_seconds` histograms, `treasury_info` with the
version. No label holds an intent id, address or amount.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from common import __version__
from common.binance import observe
from common.heartbeat import Heartbeat
from common.logs import get_logger
from common.metrics_http import Check, HealthRoutes, heartbeat_check
from treasury_bot import freeze, lifecycle

log = get_logger("treasury.metrics")

PREFIX = "treasury"
DECISION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
FROZEN_REASONS: tuple[str, ...] = (*freeze.BREAKERS, freeze.OPERATOR)
FINAL_STATUSES: tuple[str, ...] = (lifecycle.COMPLETED, lifecycle.FAILED, lifecycle.REJECTED,
                                   lifecycle.CANCELLED)  # `denied` never became a withdrawal
LOOP_STALE_S = 10.0            # /healthz: the intent loop turns every POLL_MS (50 ms) at most
EXCHANGE_STALE_FLOOR_S = 60.0  # /readyz: an exchange answer within max(this, 3 poll intervals)
NO_REASON = "none"


@dataclass(frozen=True)
class Snapshot:
    """What the ledger says at one scrape (times in ms on the treasury's clock)."""

    now_ms: int
    status_counts: Mapping[str, int]
    oldest_open_received_at: int | None
    stalled: int
    window_usage: Mapping[str, Decimal]       # coin -> used / window_cap
    outbox_unsent: int
    oldest_unsent_alert_at: int | None
    alerts_raised: int
    mails: Mapping[str, int]                  # state -> count
    frozen_reason: str | None                 # a FROZEN_REASONS label, or None
    frozen_at: int | None
    halted: bool
    last_poll_at: int | None
    poll_interval_s: float
    clock_offset_ms: int | None
    ledger_bytes: int
    disk_free_bytes: int | None


def _gauge(name: str, doc: str, value: float | None = None, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels) if labels else None)
    if value is not None and not labels:
        family.add_metric([], float(value))
    return family


def _age_s(now_ms: int, at_ms: int | None) -> float:
    return max(0.0, (now_ms - at_ms) / 1000.0) if at_ms is not None else 0.0


def snapshot_families(s: Snapshot) -> list:
    """Pure: the metric families of one snapshot."""
    out = []
    opened = _gauge("open_intents", "Open intents (not terminal) by status.", labels=["status"])
    for status in lifecycle.OPEN:
        opened.add_metric([status], s.status_counts.get(status, 0))
    out.append(opened)
    out.append(_gauge("oldest_open_intent_age_seconds", "Age of the oldest open intent (0 when none).",
                      _age_s(s.now_ms, s.oldest_open_received_at)))
    out.append(_gauge("pending_approvals", "Intents waiting for an operator's approval.",
                      s.status_counts.get(lifecycle.PENDING_APPROVAL, 0)))
    out.append(_gauge("stalled_intents", "Queued intents not sent for stuck_after_minutes (alerted).", s.stalled))
    usage = _gauge("window_usage_ratio", "Amount counted in the rolling window over the coin's window cap.",
                   labels=["coin"])
    for coin, ratio in sorted(s.window_usage.items()):
        usage.add_metric([coin], float(ratio))
    out.append(usage)
    final = CounterMetricFamily(f"{PREFIX}_withdrawals", "Withdrawals by final status (from the ledger).",
                                labels=["status"])
    for status in FINAL_STATUSES:
        final.add_metric([status], s.status_counts.get(status, 0))
    out.append(final)
    out.append(_gauge("outbox_unsent_alerts", "Alerts not yet accepted by the mail server.", s.outbox_unsent))
    out.append(_gauge("outbox_oldest_unsent_age_seconds", "Age of the oldest unsent alert (0 when none).",
                      _age_s(s.now_ms, s.oldest_unsent_alert_at)))
    out.append(CounterMetricFamily(f"{PREFIX}_alerts_raised", "Alerts ever put in the outbox.",
                                   value=s.alerts_raised))
    out.append(CounterMetricFamily(f"{PREFIX}_alert_mails_sent", "Alert mails accepted by the mail server.",
                                   value=s.mails.get("sent", 0)))
    frozen = _gauge("frozen", "1 while frozen, by the freeze's reason (a breaker or operator).", labels=["reason"])
    for reason in FROZEN_REASONS:
        frozen.add_metric([reason], 1.0 if s.frozen_reason == reason else 0.0)
    out.append(frozen)
    out.append(_gauge("frozen_since_timestamp_seconds", "When the standing freeze began (0 when not frozen).",
                      (s.frozen_at or 0) / 1000.0))
    out.append(_gauge("withdrawals_halted", "1 while the executor is halted (e.g. the key was refused).",
                      1.0 if s.halted else 0.0))
    out.append(_gauge("last_poll_timestamp_seconds", "When the poller last read the exchange's withdrawals.",
                      (s.last_poll_at or 0) / 1000.0))
    out.append(_gauge("poll_interval_seconds", "The poller's interval in force.", s.poll_interval_s))
    out.append(_gauge("clock_offset_seconds", "Exchange minus host clock, as last measured.",
                      (s.clock_offset_ms or 0) / 1000.0))
    out.append(_gauge("ledger_size_bytes", "The ledger file and its WAL.", s.ledger_bytes))
    if s.disk_free_bytes is not None:
        out.append(_gauge("disk_free_bytes", "Free space on the ledger's file system.", s.disk_free_bytes))
    return out


def window_ratios(policy, usage) -> dict[str, Decimal]:
    """Pure: per coin of the policy, used / window_cap (Decimal; 0 for a zero cap)."""
    ratios = {}
    for coin, limits in policy.limits.coins.items():
        cap = Decimal(limits.window_cap)
        ratios[coin] = (usage.coin_sum(coin) / cap) if cap > 0 else Decimal(0)
    return ratios


def read_snapshot(ledger, policy, now_ms: int, poll_interval_s: float) -> Snapshot:
    """One scrape's reads, on the caller's ledger connection (read-only)."""
    from treasury_bot import withdrawal_notes
    from treasury_bot.decider import load_usage
    from treasury_bot.policy_in_force import resolve_from_ledger
    from treasury_bot.trusted_clock import META_OFFSET_MS

    in_force = resolve_from_ledger(ledger, policy, now_ms).effective
    state = freeze.current(ledger)
    last_poll, offset = ledger.get_meta("last_poll_at"), ledger.get_meta(META_OFFSET_MS)
    path = Path(ledger.path)
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    return Snapshot(
        now_ms=now_ms, status_counts=ledger.status_counts(),
        oldest_open_received_at=ledger.oldest_open_received_at(), stalled=len(ledger.open_stalls()),
        window_usage=window_ratios(in_force, load_usage(ledger, in_force, now_ms)),
        outbox_unsent=ledger.outbox.counts().unsent, oldest_unsent_alert_at=ledger.oldest_unsent_alert_at(),
        alerts_raised=ledger.alerts_raised(), mails=ledger.alert_mail_counts(),
        frozen_reason=state.label if state else None, frozen_at=state.frozen_at if state else None,
        halted=withdrawal_notes.halted(ledger) is not None,
        last_poll_at=int(last_poll) if last_poll else None, poll_interval_s=poll_interval_s,
        clock_offset_ms=int(offset) if offset else None, ledger_bytes=size, disk_free_bytes=free)


class LedgerCollector(Collector):
    """Reads the ledger at each scrape on a connection of its own (opened per scrape: the
    HTTP server answers on its own threads, and a Ledger is one thread's)."""

    def __init__(self, open_ledger: Callable[[], object], policy, now_ms: Callable[[], int],
                 poll_interval_s: float) -> None:
        self._open = open_ledger
        self._policy = policy
        self._now_ms = now_ms
        self._poll_s = poll_interval_s
        self.last: Snapshot | None = None

    def collect(self) -> Iterable:
        up = _gauge("ledger_readable", "1 when this scrape could read the ledger.")
        try:
            ledger = self._open()
            try:
                snap = read_snapshot(ledger, self._policy, self._now_ms(), self._poll_s)
            finally:
                ledger.close()
        except Exception as exc:
            log.warning("metrics_ledger_read_failed", error=type(exc).__name__, detail=str(exc)[:200])
            up.add_metric([], 0.0)
            return [up]
        self.last = snap
        up.add_metric([], 1.0)
        return [up, *snapshot_families(snap)]

    def describe(self) -> Iterable:
        return []  # the registry must not read the file when this collector is registered


@dataclass
class ExchangeSeen:
    """The last exchange answer this process got (any HTTP answer: the exchange is reachable)."""

    at: float | None = None          # monotonic
    result: str | None = None


class TreasuryMetrics:
    """The registry, the in-process counters, the collector and the health checks."""

    def __init__(self, *, open_ledger: Callable[[], object], policy, now_ms: Callable[[], int],
                 poll_interval_s: float, monotonic: Callable[[], float], mode: str = "live") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        Info(PREFIX, "The treasury's version and policy mode.", registry=r).info(
            {"version": __version__, "mode": mode})
        self.decisions = Counter(f"{PREFIX}_decisions", "Intents decided, by outcome and reason code.",
                                 ["outcome", "reason_code"], registry=r)
        self.decision_seconds = Histogram(f"{PREFIX}_decision_seconds",
                                          "From a batch's receipt to its replies sent (journaled first).",
                                          buckets=DECISION_BUCKETS, registry=r)
        self.exchange_requests = Counter(f"{PREFIX}_exchange_requests", "Exchange requests by endpoint and result.",
                                         ["endpoint", "result"], registry=r)
        self.exchange_weight = _WeightCollector(PREFIX)
        r.register(self.exchange_weight)
        self.collector = LedgerCollector(open_ledger, policy, now_ms, poll_interval_s)
        r.register(self.collector)
        self.heartbeat = Heartbeat(monotonic)
        self.exchange = ExchangeSeen()
        self._open_ledger = open_ledger
        self._monotonic = monotonic
        self._poll_s = poll_interval_s

    # -- the hot path: cheap --------------------------------------------------------

    def on_decided(self, decided: Sequence[tuple[str, object]], seconds: float) -> None:
        """IntentServer calls this after a batch's replies are out."""
        for _, reply in decided:
            self.decisions.labels(reply.outcome, reply.reason_code or NO_REASON).inc()
            self.decision_seconds.observe(seconds)

    def on_exchange(self, endpoint: str, result: str, weights: Mapping[str, int]) -> None:
        self.exchange_requests.labels(endpoint, result).inc()
        if weights:
            self.exchange_weight.update(weights)
        if result not in ("transport", "exchange_unavailable"):
            self.exchange.at, self.exchange.result = self._monotonic(), result

    # -- health ---------------------------------------------------------------------

    def alive(self) -> list[Check]:
        return [heartbeat_check("intent_loop", self.heartbeat, LOOP_STALE_S)]

    def ready(self) -> list[Check]:
        return ready_checks(self.exchange, self._monotonic(), max(EXCHANGE_STALE_FLOOR_S, 3 * self._poll_s),
                            self._ledger_state())

    def _ledger_state(self) -> "LedgerState":
        from treasury_bot import withdrawal_notes
        try:
            ledger = self._open_ledger()
        except Exception as exc:
            return LedgerState(writable=False, error=f"cannot open: {type(exc).__name__}")
        try:
            try:
                ledger.probe_writable()
                writable, error = True, ""
            except sqlite3.Error as exc:
                writable, error = False, f"{type(exc).__name__}: {exc}"
            state = freeze.current(ledger)
            halted = withdrawal_notes.halted(ledger)
            return LedgerState(writable, error, state.label if state else None, halted[0] if halted else None)
        finally:
            ledger.close()

    def health(self) -> HealthRoutes:
        return HealthRoutes(alive=self.alive, ready=self.ready)

    def install(self) -> None:
        observe.set_observer(self.on_exchange)


@dataclass(frozen=True)
class LedgerState:
    writable: bool
    error: str = ""
    frozen_reason: str | None = None
    halted_reason: str | None = None


def ready_checks(exchange: ExchangeSeen, now_mono: float, stale_s: float, ledger: LedgerState) -> list[Check]:
    """Pure: the treasury is ready when the exchange answered recently, the ledger takes
    writes, and it is neither frozen nor halted."""
    if exchange.at is None:
        seen = Check("exchange", False, "no answer from the exchange yet")
    elif now_mono - exchange.at > stale_s:
        seen = Check("exchange", False, f"last answer {now_mono - exchange.at:.0f} s ago (over {stale_s:g} s)")
    else:
        seen = Check("exchange", True, f"answered {now_mono - exchange.at:.1f} s ago")
    return [
        seen,
        Check("ledger_writable", ledger.writable, ledger.error),
        Check("not_frozen", ledger.frozen_reason is None, f"frozen ({ledger.frozen_reason})" if ledger.frozen_reason else ""),
        Check("not_halted", ledger.halted_reason is None, (ledger.halted_reason or "")[:200]),
    ]


class _WeightCollector(Collector):
    """The last used-weight / order-count headers seen (x-sapi-used-uid-weight-1m, ...): a
    gauge by header name, a small fixed set (common/binance/weights.py)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self._weights: dict[str, int] = {}

    def update(self, weights: Mapping[str, int]) -> None:
        with self._lock:
            self._weights.update(weights)

    def collect(self) -> Iterable:
        family = GaugeMetricFamily(f"{self._prefix}_exchange_used_weight",
                                   "Last used weight / order count the exchange reported, by header.",
                                   labels=["header"])
        with self._lock:
            for header, value in sorted(self._weights.items()):
                family.add_metric([header], float(value))
        return [family]

    def describe(self) -> Iterable:
        return []


def start(settings, metrics: TreasuryMetrics):
    """The listener on TREASURY_METRICS_BIND (common/metrics_http.start_listener); None when off."""
    from common.metrics_http import start_listener
    return start_listener(settings.metrics_bind, metrics, "TREASURY_METRICS_BIND", log)


