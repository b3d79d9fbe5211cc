"""The order desk: one signal -> risk -> claim its id -> POST /api/v3/order -> record and log.

Single-threaded by design (the order worker owns it). The order of operations is what
makes a signal trade at most once:
1. duplicate check (the state file), 2. pure risk plan, 3. rate window,
4. claim the id as `placing` and COMMIT (durably), 5. send, 6. record the outcome.
An order whose outcome is unknown (timeout, 5XX) is never sent again blindly: it is
looked up by its client order id; proven absent it is `failed` (not resent: a late
signal is not worth the risk of a double trade); not provable it stays `placing` and
is looked up again later and at every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping, Protocol

from common import binance
from common.clock import Clock
from common.logs import get_logger
from common.money import canonical
from signal_bot.risk import OrderPlan, Refusal, RiskLimits, admit, plan_order
from signal_bot.signals import Signal
from signal_bot.state import SignalRow, StateStore
from signal_bot.symbol_rules import SymbolRules

log = get_logger("signal.orders")

# Look-ups after an unknown outcome: wait, look, wait longer, look again.
RECONCILE_DELAYS = (0.25, 1.0, 2.0)
# A `placing` order still unknown this long after its claim is looked up again by the
# periodic pass; absent by then, it never reached the matching engine.
ABSENT_AFTER_MS = 60_000


class OrderClient(Protocol):
    def new_order(self, **kwargs: Any) -> Any: ...
    def get_order(self, *, symbol: str, orig_client_order_id: str) -> Any: ...


@dataclass(frozen=True)
class Handled:
    """What became of one signal: state is placed / rejected / failed / refused / unknown."""

    signal_id: str
    state: str
    code: str | None = None
    filled: bool = False


def plan_fields(signal: Signal, plan: OrderPlan | None) -> dict[str, str | None]:
    """The columns recorded for a signal: the order as sent, or the signal as received."""
    if plan is None:
        return {"symbol": signal.symbol, "side": signal.side, "type": signal.type,
                "quantity": signal.quantity, "quote_order_qty": signal.quote_amount,
                "price": signal.price, "time_in_force": signal.time_in_force}
    d = plan.describe()
    return {"symbol": plan.symbol, "side": plan.side, "type": plan.type, "quantity": d.get("quantity"),
            "quote_order_qty": d.get("quote_order_qty"), "price": d.get("price"),
            "time_in_force": plan.time_in_force}


class OrderDesk:
    def __init__(self, client: OrderClient, store: StateStore, rules: Mapping[str, SymbolRules],
                 limits: RiskLimits, clock: Clock, *, dry_run: bool = False,
                 last_price: Callable[[str], Decimal | None] = lambda symbol: None,
                 on_fill: Callable[[str], None] = lambda signal_id: None) -> None:
        self._client = client
        self._store = store
        self._rules = rules
        self._limits = limits
        self._clock = clock
        self._dry_run = dry_run
        self._mode = "test" if dry_run else "live"
        self._last_price = last_price
        self._on_fill = on_fill
        self._sent_at: tuple[float, ...] = ()

    # -- one signal -------------------------------------------------------------------------
    def handle(self, signal: Signal) -> Handled:
        if self._store.seen(self._mode, signal.id):
            return self._refused(signal, None, Refusal("duplicate", "this id was seen before"), record=False)
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
        if not self._store.claim(self._mode, signal.id, plan_fields(signal, plan), self._clock.now_ms()):
            return self._refused(signal, plan, Refusal("duplicate", "this id was seen before"), record=False)
        return self._send(plan)

    def _refused(self, signal: Signal, plan: OrderPlan | None, refusal: Refusal, *, record: bool = True) -> Handled:
        if record and not self._store.record_refusal(self._mode, signal.id, plan_fields(signal, plan),
                                                     refusal.code, self._clock.now_ms()):
            refusal = Refusal("duplicate", "this id was seen before")
        log.info("order_refused", id=signal.id, symbol=signal.symbol, side=signal.side, type=signal.type,
                 reason=refusal.code, detail=refusal.detail)
        return Handled(signal.id, "refused", refusal.code)

    def _send(self, plan: OrderPlan) -> Handled:
        try:
            result = self._client.new_order(
                symbol=plan.symbol, side=plan.side, type=plan.type, new_client_order_id=plan.client_order_id,
                quantity=plan.quantity, quote_order_qty=plan.quote_order_qty, price=plan.price,
                time_in_force=plan.time_in_force, test=self._dry_run)
        except binance.OutcomeUnknown as exc:
            log.warning("order_outcome_unknown", id=plan.client_order_id, symbol=plan.symbol, error=exc.code,
                        detail=exc.message)
            return self._reconcile_now(plan.client_order_id, plan.symbol)
        except binance.ExchangeUnavailable as exc:
            # The client proved nothing was sent (no connection, or "busy" before processing).
            return self._finish_error(plan, "failed", exc)
        except binance.ExchangeError as exc:
            return self._finish_error(plan, "rejected", exc)
        except Exception as exc:  # noqa: BLE001 - a bug after sending: the order may exist
            log.error("order_outcome_unknown", id=plan.client_order_id, symbol=plan.symbol,
                      error=type(exc).__name__, exc_info=True)
            return Handled(plan.client_order_id, "unknown", "internal")
        if result is None:  # /order/test: validated, never placed
            self._store.finish(self._mode, plan.client_order_id, "placed", self._clock.now_ms(), order_status="TEST")
            log.info("order_placed", id=plan.client_order_id, dry_run=True, status="TEST",
                     notional=canonical(plan.notional), **plan.describe())
            return Handled(plan.client_order_id, "placed")
        return self._placed(plan.client_order_id, result, plan.describe())

    def _finish_error(self, plan: OrderPlan, state: str, exc: binance.ExchangeError) -> Handled:
        self._store.finish(self._mode, plan.client_order_id, state, self._clock.now_ms(), reason_code=exc.code)
        log.warning("order_rejected" if state == "rejected" else "order_failed", id=plan.client_order_id,
                    reason=exc.code, binance_code=exc.binance_code, detail=exc.message, **plan.describe())
        return Handled(plan.client_order_id, state, exc.code)

    def _placed(self, signal_id: str, result: Any, described: Mapping[str, str], *, reconciled: bool = False) -> Handled:
        executed = Decimal(result.executed_qty)
        quote = Decimal(result.cummulative_quote_qty)
        self._store.finish(self._mode, signal_id, "placed", self._clock.now_ms(), order_id=str(result.order_id),
                           order_status=result.status, executed_qty=canonical(executed),
                           cummulative_quote_qty=canonical(quote))
        fill = {"executed_qty": canonical(executed), "cummulative_quote_qty": canonical(quote)}
        if executed > 0:
            fill["avg_price"] = canonical((quote / executed).quantize(Decimal("1e-12")).normalize())
        log.info("order_placed", id=signal_id, order_id=result.order_id, status=result.status,
                 reconciled=reconciled, **described, **fill)
        if executed > 0 and not self._dry_run:
            self._on_fill(signal_id)
        return Handled(signal_id, "placed", filled=executed > 0)

    # -- reconciliation ----------------------------------------------------------------------
    def _reconcile_now(self, signal_id: str, symbol: str) -> Handled:
        absent = 0
        for delay in RECONCILE_DELAYS:
            self._clock.sleep(delay)
            verdict = self._look_up(signal_id, symbol)
            if verdict == "absent":
                absent += 1
                if absent >= 2:
                    return self._absent(signal_id)
            elif verdict != "unknown":
                return verdict
        log.error("order_outcome_unresolved", id=signal_id, symbol=symbol,
                  detail="stays placing; looked up again later and at start")
        return Handled(signal_id, "unknown", "outcome_unknown")

    def _look_up(self, signal_id: str, symbol: str) -> Handled | str:
        try:
            result = self._client.get_order(symbol=symbol, orig_client_order_id=signal_id)
        except binance.OrderNotFound:
            return "absent"
        except binance.ExchangeError as exc:
            log.warning("order_lookup_failed", id=signal_id, error=exc.code, detail=exc.message)
            return "unknown"
        row = self._store.signal(self._mode, signal_id)
        described = _describe_row(row) if row else {"symbol": symbol}
        return self._placed(signal_id, result, described, reconciled=True)

    def _absent(self, signal_id: str) -> Handled:
        self._store.finish(self._mode, signal_id, "failed", self._clock.now_ms(), reason_code="order_absent")
        log.warning("order_failed", id=signal_id, reason="order_absent",
                    detail="outcome was unknown; the exchange has no such order; not resent")
        return Handled(signal_id, "failed", "order_absent")

    def reconcile_pending(self, *, at_start: bool = False) -> list[Handled]:
        """Look up every `placing` order (at start, and periodically): placed, absent or still unknown."""
        if self._dry_run:
            # Test orders leave nothing on the exchange to look up.
            rows = self._store.placing("test")
            for row in rows:
                self._store.finish("test", row.id, "failed", self._clock.now_ms(), reason_code="interrupted")
            return [Handled(r.id, "failed", "interrupted") for r in rows]
        handled = []
        for row in self._store.placing("live"):
            verdict = self._look_up(row.id, row.symbol)
            if verdict == "absent" and (at_start or self._clock.now_ms() - row.received_at >= ABSENT_AFTER_MS):
                handled.append(self._absent(row.id))
            elif isinstance(verdict, Handled):
                handled.append(verdict)
            else:
                log.warning("order_still_unknown", id=row.id, symbol=row.symbol)
                handled.append(Handled(row.id, "unknown", "outcome_unknown"))
        return handled


def _describe_row(row: SignalRow) -> dict[str, str]:
    out = {"symbol": row.symbol, "side": row.side, "type": row.type}
    for name in ("quantity", "quote_order_qty", "price", "time_in_force"):
        value = getattr(row, name)
        if value is not None:
            out[name] = value
    return out
