"""The order desk: one journaled signal -> risk -> POST /api/v3/order -> record and log.

Used by one thread at a time (under the order worker's lock, signal_bot/order_worker.py). What makes a
signal trade exactly once:
1. Every signal is journaled as `received` and committed with fsync before it is
   acknowledged (the webhook's 202; `accept` for replay). A repeated id is a duplicate
   there and never reaches the desk twice.
2. The desk decides a signal handed to it once as a `Journaled` token (made only where the
   journal INSERT succeeded) or, at start, a row still `received`: pure risk plan and rate
   window (`refused`), or the order is sent. The journal row is the claim: nothing is
   written between it and the send, so a `received` row means "its order may have been sent".
3. The outcome is recorded. An unknown outcome (timeout, 5XX) is never sent again blindly:
   it is looked up by its client order id.

When is "no such order" a proof? A signed request is executed only within recvWindow of
its timestamp, so a look-up made at least recvWindow + SETTLE_MARGIN_MS after the last
moment a request for the order could have been signed proves the order never was and never
will be ("settled"). That moment is, at run time, when new_order returned (the client's one
-1021 re-signing included); for rows left by an earlier process, when this process took the
state file's instance lock (the earlier one was dead by then: signal_bot/instance_lock.py).

At start, `recover` takes the rows left `received` or `placing`, in arrival order:
- found on the exchange -> `placed` (and swept), whatever the state;
- `received`, proven absent -> it never traded and never can: decided and sent now;
- `placing` (the outcome was unknown at run time), proven absent -> `failed` `order_absent`,
  not resent, as at run time;
- absent but not yet settled -> wait until settled, then look again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Mapping, Protocol

from common import binance
from common.clock import Clock
from common.logs import get_logger
from common.money import canonical
from signal_bot.outcomes import (ABSENT_AFTER_MS, RECOVERY_LOOKUP_DELAYS, Absent, Found, Gone, Handled,
                                 LookUp, LookupFailed, Retry, TradeNow, Unresolved, pending_step, recovery_step)
from signal_bot.risk import OrderPlan, Refusal, RiskLimits, admit, plan_order
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.state_schema import SignalRow
from signal_bot.symbol_rules import SymbolRules

log = get_logger("signal.orders")

__all__ = ["ABSENT_AFTER_MS", "RECOVERY_LOOKUP_DELAYS", "Absent", "Found", "Gone", "Handled", "Journaled",
           "LookUp", "LookupFailed", "OrderDesk", "Retry", "TradeNow", "Unresolved", "pending_step",
           "recovery_step"]

# Look-ups after an unknown outcome: wait, look, wait longer, look again.
RECONCILE_DELAYS = (0.25, 1.0, 2.0)
# Clock offsets measured by two processes (or two syncs) may differ by this much.
SETTLE_MARGIN_MS = 2000
DEFAULT_MAX_SIGNAL_AGE_MS = 120_000   # a recovered signal older than this is refused, not traded
DEFAULT_RECV_WINDOW_MS = 5000


class OrderClient(Protocol):
    def new_order(self, **kwargs: Any) -> Any: ...
    def get_order(self, *, symbol: str, orig_client_order_id: str) -> Any: ...


@dataclass(frozen=True)
class Journaled:
    """A signal whose `received` row was just committed (fsync) by this process: what `handle` takes.

    Made only where the journal INSERT succeeded (`OrderDesk.accept`, the webhook's intake),
    each handed to the desk once, so the desk reads nothing back before it sends.
    """

    signal: Signal
    # Issue 14: when the journal commit returned (just after the webhook received it), for
    # the order latency histogram (signal_bot/metrics.py).
    received_mono: float = field(default_factory=time.monotonic, compare=False)


def received_fields(signal: Signal) -> dict[str, str | None]:
    """The columns journaled for a signal: as received."""
    return {"symbol": signal.symbol, "side": signal.side, "type": signal.type,
            "quantity": signal.quantity, "quote_order_qty": signal.quote_amount,
            "price": signal.price, "time_in_force": signal.time_in_force,
            "take_profit": signal.take_profit, "stop_loss": signal.stop_loss, "action": signal.action,
            "closes": signal.closes}


def plan_columns(plan: OrderPlan) -> dict[str, str | None]:
    """The columns recorded once decided: the order as sent (canonical amounts)."""
    d = plan.describe()
    return {"symbol": plan.symbol, "side": plan.side, "type": plan.type, "quantity": d.get("quantity"),
            "quote_order_qty": d.get("quote_order_qty"), "price": d.get("price"),
            "time_in_force": plan.time_in_force}


def signal_of(row: SignalRow) -> Signal:
    """The signal a `received` row journaled (its columns hold it as received)."""
    return Signal(id=row.id, symbol=row.symbol, side=row.side, type=row.type,  # type: ignore[arg-type]
                  quantity=row.quantity, quote_amount=row.quote_order_qty, price=row.price,
                  time_in_force=row.time_in_force, take_profit=row.take_profit,  # type: ignore[arg-type]
                  stop_loss=row.stop_loss, action=row.action, closes=row.closes)  # type: ignore[arg-type]


def _signal_id(signal: Signal) -> dict[str, str]:
    """The id as written, logged beside the client order id when the two differ."""
    return {} if signal.id == signal.client_order_id else {"signal_id": signal.id[:64]}


def log_duplicate(signal: Signal) -> None:
    log.info("order_refused", id=signal.client_order_id, **_signal_id(signal), symbol=signal.symbol, side=signal.side, type=signal.type,
             reason="duplicate", detail="this id was seen before")


class OrderDesk:
    def __init__(self, client: OrderClient, store: StateStore, rules: Mapping[str, SymbolRules],
                 limits: RiskLimits, clock: Clock, *, dry_run: bool = False,
                 last_price: Callable[[str], Decimal | None] = lambda symbol: None,
                 on_fill: Callable[[str], None] = lambda signal_id: None,
                 recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
                 max_signal_age_ms: int = DEFAULT_MAX_SIGNAL_AGE_MS,
                 exits: "Callable[[OrderDesk], Any] | None" = None) -> None:
        self._client = client
        self._store = store
        self._rules = rules
        self._limits = limits       # replace_limits (issue 16: a reload)
        self._clock = clock
        self._dry_run = dry_run
        self._mode = "test" if dry_run else "live"
        self._last_price = last_price
        self._on_fill = on_fill
        self._settle_ms = recv_window_ms + SETTLE_MARGIN_MS
        self._max_signal_age_ms = max_signal_age_ms
        self._sent_at: tuple[float, ...] = ()
        # Issue 14 (signal_bot/metrics.py): told of each signal `handle` finished, with the
        # seconds since it was journaled.
        self.on_handled: Callable[[Handled, float], None] | None = None
        # Issue 15 item 4: the exit desk (signal_bot/exits.py), built over this desk's settle time.
        self.exits = None if exits is None or dry_run else exits(self)

    @property
    def settle_ms(self) -> int:
        """How long after its last possible signing an order's absence becomes a proof."""
        return self._settle_ms

    # -- one signal -------------------------------------------------------------------------
    def replace_limits(self, limits: RiskLimits) -> None:
        """Issue 16 (a reload): the risk limits of the next signal handled (one assignment: a
        signal being handled keeps the limits it read)."""
        self._limits = limits

    def accept(self, signal: Signal) -> Journaled | None:
        """Journal a signal durably (replay's 202); None for a seen id (logged as a duplicate)."""
        if self._store.journal(self._mode, signal.client_order_id, received_fields(signal), self._clock.now_ms()):
            return Journaled(signal)
        log_duplicate(signal)
        return None

    def handle(self, journaled: Journaled) -> Handled:
        """Decide and send one signal journaled just now (rows of an earlier run go through `recover`)."""
        handled = self._trade(journaled.signal)
        if self.on_handled is not None:
            self.on_handled(handled, time.monotonic() - journaled.received_mono)
        return handled

    def tick_exits(self) -> None:
        """The exits' periodic pass (issue 15 item 4), under the desk lock like every order."""
        if self.exits is not None:
            try:
                self.exits.tick()
            except Exception:  # noqa: BLE001 - one failed pass must not stop the desk
                log.error("exits_pass_failed", exc_info=True)

    def _close(self, signal: Signal) -> Handled:
        """A close signal: cancel the entry's exit, then a MARKET order for its quantity, under the close's id."""
        if self.exits is None:
            return self._refused(signal, None, Refusal("nothing_to_close", "exits are not managed in a dry run"))
        try:
            quantity = self.exits.prepare_close(signal)
        except binance.ExchangeError as exc:
            quantity = Refusal("exit_cancel_unknown", f"the exchange did not answer ({exc.code}); close again")
        if isinstance(quantity, Refusal):
            return self._refused(signal, None, quantity)
        market = Signal(id=signal.id, symbol=signal.symbol, side=signal.side, type="MARKET",
                        quantity=canonical(quantity))
        plan = plan_order(market, self._rules.get(signal.symbol), self._limits, self._last_price(signal.symbol))
        if isinstance(plan, Refusal):
            return self._refused(signal, None, plan)
        log.info("close_sending", id=signal.id, closes=signal.closes, quantity=canonical(quantity))
        handled = self._send(plan)
        if handled.filled:
            self.exits.after_close(signal.id)
        return handled

    def _trade(self, signal: Signal) -> Handled:
        if signal.action == "close":
            return self._close(signal)
        price = None
        if signal.type == "MARKET" and signal.quantity is not None and signal.symbol in self._rules:
            price = self._last_price(signal.symbol)
        plan = plan_order(signal, self._rules.get(signal.symbol), self._limits, price)
        if isinstance(plan, Refusal):
            return self._refused(signal, None, plan)
        allowed, self._sent_at = admit(self._sent_at, self._clock.monotonic(),
                                       self._limits.max_orders_per_minute)
        if not allowed:
            return self._refused(signal, plan, Refusal(
                "rate_limited", f"over max_orders_per_minute {self._limits.max_orders_per_minute}"))
        return self._send(plan)

    def _refused(self, signal: Signal, plan: OrderPlan | None, refusal: Refusal) -> Handled:
        order = plan_columns(plan) if plan is not None else None
        self._store.refuse(self._mode, signal.client_order_id, refusal.code, self._clock.now_ms(), order)
        log.info("order_refused", id=signal.client_order_id, **_signal_id(signal), symbol=signal.symbol, side=signal.side, type=signal.type,
                 reason=refusal.code, detail=refusal.detail)
        return Handled(signal.client_order_id, "refused", refusal.code)

    def _send(self, plan: OrderPlan) -> Handled:
        try:
            result = self._client.new_order(
                symbol=plan.symbol, side=plan.side, type=plan.type, new_client_order_id=plan.client_order_id,
                quantity=plan.quantity, quote_order_qty=plan.quote_order_qty, price=plan.price,
                time_in_force=plan.time_in_force, test=self._dry_run)
        except binance.OutcomeUnknown as exc:
            settled_at = self._clock.now_ms() + self._settle_ms
            log.warning("order_outcome_unknown", id=plan.client_order_id, symbol=plan.symbol, error=exc.code,
                        detail=exc.message)
            return self._reconcile_now(plan, plan_columns(plan), settled_at)
        except binance.ExchangeUnavailable as exc:
            # The client proved nothing was sent (no connection, or "busy" before processing).
            return self._finish_error(plan, "failed", exc)
        except binance.ExchangeError as exc:
            return self._finish_error(plan, "rejected", exc)
        except Exception:  # noqa: BLE001 - a bug after sending: the order may exist
            log.error("order_outcome_unknown", id=plan.client_order_id, symbol=plan.symbol,
                      error="internal", exc_info=True)
            self._store.mark_placing(self._mode, plan.client_order_id, self._clock.now_ms(), plan_columns(plan))
            return Handled(plan.client_order_id, "unknown", "internal")
        if result is None:  # /order/test: validated, never placed
            self._store.finish(self._mode, plan.client_order_id, "placed", self._clock.now_ms(),
                               order_status="TEST", order=plan_columns(plan))
            log.info("order_placed", id=plan.client_order_id, dry_run=True, status="TEST",
                     notional=canonical(plan.notional), **plan.describe())
            return Handled(plan.client_order_id, "placed")
        return self._placed(plan.client_order_id, result, plan.describe(), order=plan_columns(plan))

    def _finish_error(self, plan: OrderPlan, state: str, exc: binance.ExchangeError) -> Handled:
        self._store.finish(self._mode, plan.client_order_id, state, self._clock.now_ms(), reason_code=exc.code,
                           order=plan_columns(plan))
        log.warning("order_rejected" if state == "rejected" else "order_failed", id=plan.client_order_id,
                    reason=exc.code, binance_code=exc.binance_code, detail=exc.message, **plan.describe())
        return Handled(plan.client_order_id, state, exc.code)

    def _placed(self, signal_id: str, result: Any, described: Mapping[str, str], *, reconciled: bool = False,
                order: Mapping[str, str | None] | None = None) -> Handled:
        executed = Decimal(result.executed_qty)
        quote = Decimal(result.cummulative_quote_qty)
        recorded = self._store.finish(self._mode, signal_id, "placed", self._clock.now_ms(),
                                      order_id=str(result.order_id), order_status=result.status,
                                      executed_qty=canonical(executed), cummulative_quote_qty=canonical(quote),
                                      order=order)
        fill = {"executed_qty": canonical(executed), "cummulative_quote_qty": canonical(quote)}
        if executed > 0:
            fill["avg_price"] = canonical((quote / executed).quantize(Decimal("1e-12")).normalize())
        log.info("order_placed", id=signal_id, order_id=result.order_id, status=result.status,
                 reconciled=reconciled, **described, **fill)
        # Only the pass that recorded the order asks for its sweep: a fill is swept once.
        if recorded and executed > 0 and not self._dry_run:
            self._on_fill(signal_id)
        return Handled(signal_id, "placed", filled=executed > 0)

    # -- unknown outcomes ---------------------------------------------------------------------
    def _reconcile_now(self, plan: OrderPlan, fields: Mapping[str, str | None], settled_at: int) -> Handled:
        signal_id, symbol = plan.client_order_id, plan.symbol
        verdict: LookUp = LookupFailed("not_looked_up")
        for delay in RECONCILE_DELAYS:
            self._clock.sleep(delay)
            verdict = self._look_up(signal_id, symbol)
            if isinstance(verdict, Found):
                return verdict.handled
        if isinstance(verdict, Absent):
            # Absent now; a proof only once no request for it can still be executed.
            self._clock.sleep(max(0, settled_at - self._clock.now_ms()) / 1000)
            match self._look_up(signal_id, symbol):
                case Found(handled):
                    return handled
                case Absent():
                    return self._absent(signal_id, fields)
        self._store.mark_placing(self._mode, signal_id, self._clock.now_ms(), fields)
        log.error("order_outcome_unresolved", id=signal_id, symbol=symbol,
                  detail="stays placing; looked up again later and at start")
        return Handled(signal_id, "unknown", "outcome_unknown")

    def _look_up(self, signal_id: str, symbol: str) -> LookUp:
        try:
            result = self._client.get_order(symbol=symbol, orig_client_order_id=signal_id)
        except binance.OrderNotFound:
            return Absent()
        except binance.ExchangeError as exc:
            log.warning("order_lookup_failed", id=signal_id, error=exc.code, detail=exc.message)
            return LookupFailed(exc.code)
        row = self._store.signal(self._mode, signal_id)
        described = _describe_row(row) if row else {"symbol": symbol}
        return Found(self._placed(signal_id, result, described, reconciled=True))

    def _absent(self, signal_id: str, fields: Mapping[str, str | None] | None = None) -> Handled:
        self._store.finish(self._mode, signal_id, "failed", self._clock.now_ms(), reason_code="order_absent",
                           order=fields)
        log.warning("order_failed", id=signal_id, reason="order_absent",
                    detail="outcome was unknown; the exchange has no such order; not resent")
        return Handled(signal_id, "failed", "order_absent")

    def reconcile_pending(self) -> list[Handled]:
        """The periodic pass: look up every `placing` order; found -> placed, absent long enough -> failed."""
        if self._dry_run:
            return []
        handled = []
        for row in self._store.placing("live"):
            verdict = self._look_up(row.id, row.symbol)
            match pending_step(verdict, self._clock.now_ms() - row.updated_at):
                case Found(done):
                    handled.append(done)
                case Gone():
                    handled.append(self._absent(row.id))
                case Unresolved():
                    log.warning("order_still_unknown", id=row.id, symbol=row.symbol)
                    handled.append(Handled(row.id, "unknown", "outcome_unknown"))
        return handled

    # -- start: rows left by an earlier process -------------------------------------------------
    def unfinished(self) -> list[SignalRow]:
        """The rows to recover at start, `placing` first (the reconciliation), then `received`, each in arrival order."""
        rows = self._store.unfinished(self._mode)
        return [r for r in rows if r.state == "placing"] + [r for r in rows if r.state == "received"]

    def recover(self, row: SignalRow, settled_at_ms: int, attempt: int = 0) -> Handled | Retry:
        """Settle one row left by an earlier process: what became of it, or when to ask again.

        `settled_at_ms`: when no request of the earlier process can be executed any more
        (this process's start + recvWindow + margin).
        """
        if self._dry_run:
            # Test orders leave nothing on the exchange, and validating one twice trades nothing.
            if row.state == "placing":
                self._store.finish("test", row.id, "failed", self._clock.now_ms(), reason_code="interrupted")
                return Handled(row.id, "failed", "interrupted")
            return self._trade_recovered(row)
        verdict = self._look_up(row.id, row.symbol)
        match recovery_step(row.state, verdict, settled_at_ms - self._clock.now_ms(), attempt):
            case Found(handled):
                return handled
            case Retry() as retry:
                return retry
            case Gone():
                return self._absent(row.id)
            case TradeNow():
                return self._trade_recovered(row)
            case Unresolved():
                return self._left_placing(row)

    def _left_placing(self, row: SignalRow) -> Handled:
        if row.state == "received":
            self._store.mark_placing(self._mode, row.id, self._clock.now_ms())
        log.warning("order_still_unknown", id=row.id, symbol=row.symbol,
                    detail="look-ups failed at start; stays placing, looked up again later")
        return Handled(row.id, "unknown", "outcome_unknown")

    def _trade_recovered(self, row: SignalRow) -> Handled:
        age_ms = self._clock.now_ms() - row.received_at
        if age_ms > self._max_signal_age_ms:
            # A signal is a view of the market when it was sent; after a long stop, trading
            # it blind would be acting on a stale view.
            refusal = Refusal("stale_signal", f"received {age_ms // 1000} s ago, over "
                                              f"orders.max_signal_age_seconds ({self._max_signal_age_ms // 1000} s)")
            self._store.refuse(self._mode, row.id, refusal.code, self._clock.now_ms())
            log.warning("order_refused", id=row.id, symbol=row.symbol, reason=refusal.code, detail=refusal.detail)
            return Handled(row.id, "refused", refusal.code)
        log.info("signal_recovered", id=row.id, seq=row.seq, received_at=row.received_at,
                 detail="journaled before the last stop, never on the exchange: handled now")
        try:
            signal = signal_of(row)
        except (TypeError, ValueError) as exc:
            refusal = Refusal("invalid_signal", f"the journaled signal is not valid: {exc}")
            self._store.refuse(self._mode, row.id, refusal.code, self._clock.now_ms())
            log.error("order_refused", id=row.id, symbol=row.symbol, reason=refusal.code, detail=refusal.detail)
            return Handled(row.id, "refused", refusal.code)
        return self._trade(signal)


def _describe_row(row: SignalRow) -> dict[str, str]:
    out = {"symbol": row.symbol, "side": row.side, "type": row.type}
    for name in ("quantity", "quote_order_qty", "price", "time_in_force"):
        value = getattr(row, name)
        if value is not None:
            out[name] = value
    return out
