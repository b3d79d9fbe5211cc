"""Profit sweeps: after a fill, ask the treasury to move the excess of one asset (transfer intents).

Pure part: how much to sweep (`plan_sweep`), the intent's id (`sweep_intent_id`).
Shell part: `SweepWorker`, a thread fed by a queue so that a slow or absent treasury
never blocks order handling. Rules that keep money from moving twice:
- one sweep open at a time (from its record until the treasury reports a terminal
  status): the balance still shows an accepted sweep's amount until it is withdrawn;
- an intent is recorded with its exact content (amount, reason, created_at) BEFORE it is
  sent, and every resend is that same record: the treasury answers a repeat with its
  first decision (Lazy Pirate in common.intent_client);
- `stale_intent` is final for that id: it is never resent; the next fill makes a new one.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Protocol, runtime_checkable

from common import messages
from common.clock import Clock
from common.intent_client import TreasuryUnavailable
from common.logs import get_logger
from common.money import canonical, floor_to_step
from signal_bot.config_file import Sweep
from signal_bot.profit import profit_sweep
from signal_bot.state import StateStore
from signal_bot.state_schema import SweepRow

log = get_logger("signal.sweep")

STALE = "stale_intent"


def sweep_intent_id(signal_id: str) -> str:
    """Deterministic per fill: the same signal can never make two different sweeps."""
    return "sw-" + hashlib.sha256(signal_id.encode()).hexdigest()[:32]


def plan_sweep(free: Decimal, sweep: Sweep) -> Decimal | None:
    """The amount to sweep from a free balance, or None: (free - keep) floored to `step`,
    only when free > keep + min_sweep, capped at `max_amount`, never below `min_sweep`."""
    keep, min_sweep, step = Decimal(sweep.keep), Decimal(sweep.min_sweep), Decimal(sweep.step)
    if not free.is_finite() or free <= keep + min_sweep:
        return None
    amount = free - keep
    if sweep.max_amount is not None:
        amount = min(amount, Decimal(sweep.max_amount))
    amount = floor_to_step(amount, step)
    if amount <= 0 or amount < min_sweep:
        return None
    return amount


def counts_as_swept(row: SweepRow) -> bool:
    """A sweep that moved money or may still: unsent, or decided and not refused. One the
    treasury accepted counts even if its withdrawal later failed: that profit is then not
    swept again by itself (under-sweeping is safe; sweeping principal is not)."""
    return row.state == "unsent" or (row.state == "decided" and row.outcome != "rejected")


def new_sweep_row(signal_id: str, amount: Decimal, sweep: Sweep, now_ms: int) -> SweepRow:
    return SweepRow(
        intent_id=sweep_intent_id(signal_id), signal_id=signal_id, coin=sweep.coin, network=sweep.network,
        destination=sweep.destination, amount=canonical(amount), reason=f"sweep after order {signal_id}",
        created_at=now_ms, state="unsent", outcome=None, reason_code=None, status=None, tries=0,
        last_error=None, updated_at=now_ms)


def intent_of(row: SweepRow) -> messages.TransferIntent:
    return messages.TransferIntent(intent_id=row.intent_id, coin=row.coin, network=row.network,
                                   destination=row.destination, amount=row.amount, reason=row.reason,
                                   created_at=row.created_at)


@dataclass(frozen=True)
class _Fill:
    signal_id: str


@dataclass(frozen=True)
class _Event:
    event: messages.WithdrawalEvent


_STOP = object()


@runtime_checkable
class SweepExchange(Protocol):
    """What the sweep worker needs from an exchange (BinanceClient is one): an asset's free
    balance in the spot or the funding wallet after a fill, and to let go of the
    connection when the worker ends."""

    def free_in_wallet(self, asset: str, wallet: str) -> Decimal:
        ...

    def close(self) -> None:
        ...


class SweepWorker:
    """Owns its own state connection, exchange client and intent client (none is shared)."""

    def __init__(self, store: StateStore, sweep: Sweep | None, make_exchange: Callable[[], SweepExchange],
                 make_intent_client: Callable[[], Any], clock: Clock, *, retry_seconds: float = 30.0) -> None:
        """`store`: its own connection, not opened yet (the thread opens it); the clients are
        made on the thread too."""
        self._unopened = store
        self._sweep = sweep
        self._make_exchange = make_exchange
        self._make_intent_client = make_intent_client
        self._clock = clock
        self._retry_seconds = retry_seconds
        self._inbox: "queue.Queue[Any]" = queue.Queue(maxsize=10_000)
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._store: StateStore | None = None
        self._exchange: SweepExchange | None = None
        self._intents: Any = None

    # -- the outside -------------------------------------------------------------------------
    def start(self) -> "SweepWorker":
        self._thread = threading.Thread(target=self._run, name="sweep", daemon=True)
        self._thread.start()
        return self

    def after_fill(self, signal_id: str) -> None:
        self._post(_Fill(signal_id))

    def after_exit(self, list_client_order_id: str) -> None:
        """An exit's leg filled (issue 15 item 4): the proceeds are in; sweep as after a fill."""
        self._post(_Fill(list_client_order_id))

    def on_event(self, event: messages.WithdrawalEvent) -> None:
        self._post(_Event(event))

    def _post(self, item: Any) -> None:
        try:
            self._inbox.put_nowait(item)
        except queue.Full:  # the periodic pass still finds what matters in the state file
            log.warning("sweep_inbox_full", item=type(item).__name__)

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the worker to stop; True when it did within `timeout`."""
        self._stopping.set()
        self._inbox.put(_STOP)
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wait_idle(self, timeout: float) -> bool:
        """For replay: wait until everything queued so far has been handled."""
        self._idle.clear()
        self._post(None)
        return self._idle.wait(timeout)

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        self._store = self._unopened.open()
        try:
            self._intents = self._make_intent_client()
            self._exchange = self._make_exchange() if self._sweep else None
            self._resolve_open()  # resend what a previous run left undecided
            next_pass = self._clock.monotonic() + self._retry_seconds
            while not self._stopping.is_set():
                timeout = max(0.0, next_pass - self._clock.monotonic())
                try:
                    item = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    item = None
                    self._resolve_open()
                    next_pass = self._clock.monotonic() + self._retry_seconds
                if item is _STOP:
                    break
                self._handle(item)
        except Exception:  # noqa: BLE001 - logged; orders go on without sweeps
            log.error("sweep_worker_crashed", exc_info=True)
        finally:
            if self._intents is not None:
                self._intents.close()
            if self._exchange is not None:
                self._exchange.close()
            self._store.close()

    def _handle(self, item: Any) -> None:
        try:
            if isinstance(item, _Fill):
                self._sweep_after(item.signal_id)
            elif isinstance(item, _Event):
                self._apply_event(item.event)
            elif item is None:
                self._idle.set()
        except Exception:  # noqa: BLE001 - one bad item must not end sweeps
            log.error("sweep_failed", item=type(item).__name__, exc_info=True)

    def _should_stop(self) -> bool:
        return self._stopping.is_set()

    # -- sweeping ----------------------------------------------------------------------------
    def _sweep_after(self, signal_id: str) -> None:
        if self._sweep is None:
            return
        open_rows = self._resolve_open()
        if open_rows:
            log.info("sweep_deferred", after=signal_id, open_intent=open_rows[0].intent_id,
                     detail="a previous sweep is not finished")
            return
        free = self._exchange.free_in_wallet(self._sweep.asset, self._sweep.wallet)
        if self._sweep.mode == "realised_profit":
            amount = self._plan_profit_sweep(free)
        else:
            amount = plan_sweep(free, self._sweep)
        if amount is None:
            log.debug("sweep_not_needed", after=signal_id, free=canonical(free))
            return
        row = new_sweep_row(signal_id, amount, self._sweep, self._clock.now_ms())
        if not self._store.add_sweep(row):
            log.info("sweep_exists", intent_id=row.intent_id, after=signal_id)
            return
        log.info("sweep_created", intent_id=row.intent_id, after=signal_id, asset=self._sweep.asset,
                 free=canonical(free), wallet=self._sweep.wallet, amount=row.amount, coin=row.coin, network=row.network,
                 destination=row.destination)
        self._send(row)

    def _plan_profit_sweep(self, free: Decimal) -> Decimal | None:
        """Issue 15 item 5: the realised profits not swept yet (every sweep that may have moved
        money counts as swept), within free - keep."""
        sweep = self._sweep
        assert sweep is not None
        swept = [Decimal(r.amount) for r in self._store.sweeps() if counts_as_swept(r)]
        return profit_sweep([Decimal(a) for a in self._store.profits(sweep.asset)], swept, free,
                            Decimal(sweep.keep), Decimal(sweep.min_sweep), Decimal(sweep.step),
                            None if sweep.max_amount is None else Decimal(sweep.max_amount))

    def _resolve_open(self) -> list[SweepRow]:
        """Resend unsent intents, ask the status of decided open ones; return those still open."""
        still_open = []
        for row in self._store.open_sweeps():
            if self._should_stop():
                return [row]
            if row.state == "unsent":
                self._send(row)
            else:
                self._refresh_status(row)
            current = self._store.sweep(row.intent_id)
            if current is not None and current.is_open:
                still_open.append(current)
        return still_open

    def _send(self, row: SweepRow) -> None:
        try:
            reply = self._intents.request(intent_of(row), should_stop=self._should_stop)
        except TreasuryUnavailable as exc:
            self._store.sweep_tried(row.intent_id, "treasury_unavailable", self._clock.now_ms())
            log.error("sweep_intent_unanswered", intent_id=row.intent_id, tries=row.tries + 1,
                      detail=str(exc), next_try_seconds=self._retry_seconds)
            return
        now = self._clock.now_ms()
        if isinstance(reply, messages.Decision):
            if reply.outcome == "rejected" and reply.reason_code == STALE:
                self._store.sweep_closed(row.intent_id, "stale", STALE, reply.detail, now)
                log.warning("sweep_intent_stale", intent_id=row.intent_id, detail=reply.detail)
                return
            self._store.sweep_decided(row.intent_id, reply.outcome, reply.reason_code, reply.status, now)
            (log.info if reply.outcome != "rejected" else log.warning)(
                "sweep_intent_decided", intent_id=row.intent_id, outcome=reply.outcome,
                reason_code=reply.reason_code, status=reply.status, amount=row.amount, detail=reply.detail)
        elif isinstance(reply, messages.Error) and reply.code == "internal":
            # The treasury could not record a decision (a full ledger disk, issue 10 defect 6):
            # nothing was decided, so the same intent is sent again at the next pass.
            self._store.sweep_tried(row.intent_id, "treasury_internal_error", now)
            log.error("sweep_intent_not_recorded", intent_id=row.intent_id, tries=row.tries + 1,
                      detail=reply.detail, next_try_seconds=self._retry_seconds)
        elif isinstance(reply, messages.Error):
            # The treasury found the intent malformed: the same bytes would fail again.
            self._store.sweep_closed(row.intent_id, "invalid", reply.code, reply.detail, now)
            log.error("sweep_intent_refused", intent_id=row.intent_id, code=reply.code, detail=reply.detail)
        else:
            self._store.sweep_tried(row.intent_id, f"unexpected reply {type(reply).__name__}", now)
            log.error("sweep_unexpected_reply", intent_id=row.intent_id, reply=type(reply).__name__)

    def _refresh_status(self, row: SweepRow) -> None:
        try:
            reply = self._intents.status(row.intent_id)
        except TreasuryUnavailable:
            log.warning("sweep_status_unanswered", intent_id=row.intent_id)
            return
        if isinstance(reply, messages.IntentState):
            if self._store.sweep_status(row.intent_id, reply.status, self._clock.now_ms()):
                log.info("sweep_status", intent_id=row.intent_id, status=reply.status,
                         withdrawal_id=reply.withdrawal_id, tx_id=reply.tx_id)
        else:
            log.warning("sweep_status_error", intent_id=row.intent_id,
                        reply=reply.code if isinstance(reply, messages.Error) else type(reply).__name__)

    def _apply_event(self, event: messages.WithdrawalEvent) -> None:
        if self._store.sweep_status(event.intent_id, event.status, self._clock.now_ms()):
            log.info("sweep_status", intent_id=event.intent_id, status=event.status,
                     withdrawal_id=event.withdrawal_id, tx_id=event.tx_id, source="event")
