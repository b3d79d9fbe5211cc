"""The exit desk (issue 15 item 4): OCO exits of filled entries, LIMIT entries' time to live,
and close signals. Used under the order worker's desk lock (signal_bot/order_worker.py), so
it never races the order desk.

What keeps an exit exactly once, like an order (signal_bot/orders.py):
- an exit is journaled (`exits` row, state `sending`, fsync) BEFORE its order list is
  sent; its ids derive from the entry's id (signal_bot/exit_plan.py: `exit_ids`), so any
  resend is the same list;
- a `sending` row is looked up by its listClientOrderId before anything else: found ->
  `open`; absent -> resent only once the absence is a proof (no request signed before the
  row's last journaling, or before this process took the instance lock, can still be
  executed: + recvWindow + margin), journaling the resend first;
- an `open` list is looked up until Binance says ALL_DONE; the leg that FILLED names how
  it ended (`take_profit` / `stop_loss`), and the fill is recorded (`done`).
A LIMIT entry still working `limit_ttl_seconds` after it was received is cancelled
(DELETE /api/v3/order); what it filled by then gets its exit.
A close signal cancels the entry's list (DELETE /api/v3/orderList), then the order desk
sends a MARKET order for the entry's quantity under the close's own id (journaled as any
signal). A list found already ended by a filled leg refuses the close (`already_exited`):
the position is gone, nothing is sold twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from common import binance
from common.clock import Clock
from common.logs import get_logger
from common.money import canonical
from signal_bot.exit_plan import ExitPlan, close_quantity, exit_ids, plan_exit
from signal_bot.profit import Leg, ProfitError, TradeFill, realised_profit
from signal_bot.risk import Refusal
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.state_schema import ExitRow, SignalRow
from signal_bot.symbol_rules import SymbolRules

log = get_logger("signal.exits")

UNKNOWN_ORDER_SENT = -2011


class ExitDesk:
    def __init__(self, client: Any, store: StateStore, rules: Mapping[str, SymbolRules], clock: Clock, *,
                 settle_ms: int, locked_at_ms: int, limit_ttl_ms: int | None, poll_ms: int = 500,
                 last_price: Callable[[str], Decimal | None] = lambda symbol: None,
                 on_exit: Callable[[str], None] = lambda list_id: None) -> None:
        self._client = client
        self._store = store
        self._rules = rules
        self._clock = clock
        self._settle_ms = settle_ms
        self._locked_at_ms = locked_at_ms
        self._limit_ttl_ms = limit_ttl_ms
        self._poll_ms = poll_ms
        self._last_price = last_price
        self._on_exit = on_exit
        self._next_tick_ms = 0

    # -- the periodic pass ----------------------------------------------------------------------
    def tick(self, force: bool = False) -> None:
        """Advance every entry and exit one step (throttled to `poll_ms` unless forced)."""
        now = self._clock.now_ms()
        if not force and now < self._next_tick_ms:
            return
        self._next_tick_ms = now + self._poll_ms
        for row in self._store.working_entries("live"):
            if self._limit_ttl_ms is not None or row.take_profit is not None:   # else nothing to do for it
                self._step(self._follow_entry, row, row.id)
        for row in self._store.entries_without_exit("live"):
            self._step(self._open_exit, row, row.id)
        for ex in self._store.exits("sending"):
            self._step(self._resolve_sending, ex, ex.signal_id)
        for ex in self._store.exits("open"):
            self._step(self._follow_exit, ex, ex.signal_id)

    @staticmethod
    def _step(action: Callable[[Any], Any], row: Any, row_id: str) -> None:
        """One row's step; an exchange error leaves the row as it is, for the next pass."""
        try:
            action(row)
        except binance.ExchangeError as exc:
            log.warning("exit_step_failed", id=row_id, step=action.__name__.lstrip("_"), error=exc.code,
                        detail=exc.message)

    # -- entries ----------------------------------------------------------------------------------
    def _follow_entry(self, row: SignalRow) -> None:
        try:
            order = self._client.get_order(symbol=row.symbol, orig_client_order_id=row.id)
        except binance.ExchangeError as exc:
            log.warning("entry_lookup_failed", id=row.id, error=exc.code)
            return
        self._record_entry(row, order)
        if order.status in ("NEW", "PARTIALLY_FILLED") and self._limit_ttl_ms is not None \
                and self._clock.now_ms() - row.received_at >= self._limit_ttl_ms:
            self._expire_entry(row)

    def _record_entry(self, row: SignalRow, order: Any) -> None:
        if self._store.entry_update("live", row.id, order.status, canonical(Decimal(order.executed_qty)),
                                    canonical(Decimal(order.cummulative_quote_qty)), self._clock.now_ms()):
            log.info("entry_status", id=row.id, status=order.status, executed_qty=canonical(order.executed_qty),
                     cummulative_quote_qty=canonical(order.cummulative_quote_qty))
            if order.status not in ("NEW", "PARTIALLY_FILLED") and Decimal(order.executed_qty) > 0:
                self._on_exit(row.id)     # a resting entry's fill: swept once, under the entry's own id

    def _expire_entry(self, row: SignalRow) -> None:
        try:
            order = self._client.cancel_order(symbol=row.symbol, orig_client_order_id=row.id)
        except binance.ExchangeError as exc:
            if exc.binance_code == UNKNOWN_ORDER_SENT:   # filled or gone meanwhile: the next look-up says
                return
            log.warning("entry_cancel_failed", id=row.id, error=exc.code, detail=exc.message)
            return
        self._record_entry(row, order)
        log.info("entry_expired", id=row.id, symbol=row.symbol, status=order.status,
                 executed_qty=canonical(order.executed_qty),
                 detail=f"not filled within limit_ttl_seconds ({self._limit_ttl_ms // 1000} s): cancelled")

    # -- exits ------------------------------------------------------------------------------------
    def held_quantity(self, entry: SignalRow, rules: SymbolRules) -> Decimal:
        """What the entry left to exit: a BUY's executed quantity less the commissions Binance
        took in the base asset (its default for a BUY), from the entry's journaled fills
        (read from GET /api/v3/myTrades once); a SELL's executed quantity."""
        executed = Decimal(entry.executed_qty or "0")
        if entry.side != "BUY" or entry.order_id is None:
            return executed
        if not self._store.fills_of(entry.symbol, entry.order_id):
            self._journal_fills(entry.symbol, entry.order_id, entry.id)
        base_fees = sum((Decimal(c) for _, _, _, c, asset in self._store.fills_of(entry.symbol, entry.order_id)
                         if asset == rules.base_asset), Decimal(0))
        return executed - base_fees

    def _open_exit(self, row: SignalRow) -> None:
        rules = self._rules.get(row.symbol)
        assert row.take_profit is not None and row.stop_loss is not None
        if rules is not None:
            try:
                held = self.held_quantity(row, rules)
            except binance.ExchangeError as exc:
                log.warning("entry_fills_unavailable", id=row.id, error=exc.code, detail="the exit waits for them")
                return
        plan = Refusal("unknown_symbol", row.symbol) if rules is None else plan_exit(
            row.id, row.side, held, Decimal(row.cummulative_quote_qty or "0") * held / Decimal(row.executed_qty),
            row.take_profit, row.stop_loss, rules, self._last_price(row.symbol))
        now = self._clock.now_ms()
        if isinstance(plan, Refusal):
            ids = exit_ids(row.id)
            self._store.add_exit(ExitRow(row.id, ids.list_client_order_id, row.symbol,
                                         "SELL" if row.side == "BUY" else "BUY", "0", row.take_profit,
                                         row.stop_loss, "failed", None, None, None, None, plan.code, now, now))
            log.error("exit_refused", id=row.id, symbol=row.symbol, reason=plan.code, detail=plan.detail)
            return
        row_out = ExitRow(row.id, plan.ids.list_client_order_id, plan.symbol, plan.side, canonical(plan.quantity),
                          canonical(plan.take_profit), canonical(plan.stop_price), "sending", None, None, None, None,
                          None, now, now)
        if not self._store.add_exit(row_out):
            return
        log.info("exit_journaled", id=row.id, **plan.describe())
        self._send(row_out, plan)

    def _send(self, ex: ExitRow, plan: ExitPlan) -> None:
        above, below = plan.legs()
        try:
            result = self._client.new_oco(symbol=plan.symbol, side=plan.side, quantity=plan.quantity,
                                          list_client_order_id=ex.list_client_order_id, above=above, below=below)
        except binance.OutcomeUnknown as exc:
            log.warning("exit_outcome_unknown", id=ex.signal_id, list_id=ex.list_client_order_id, error=exc.code,
                        detail="stays sending; looked up before any resend")
            return
        except binance.ExchangeUnavailable as exc:
            log.warning("exit_send_failed", id=ex.signal_id, error=exc.code, detail="not sent; sent again later")
            return
        except binance.ExchangeError as exc:
            self._store.exit_update(ex.signal_id, "failed", self._clock.now_ms(), reason_code=exc.code)
            log.error("exit_rejected", id=ex.signal_id, reason=exc.code, binance_code=exc.binance_code,
                      detail=exc.message)
            return
        self._opened(ex, result)

    def _opened(self, ex: ExitRow, result: Any) -> None:
        self._store.exit_update(ex.signal_id, "open", self._clock.now_ms(), order_list_id=str(result.order_list_id))
        log.info("exit_placed", id=ex.signal_id, list_id=ex.list_client_order_id, order_list_id=result.order_list_id,
                 take_profit=ex.take_profit, stop_price=ex.stop_price, quantity=ex.quantity)

    def _look_up(self, ex: ExitRow) -> Any:
        """The list on the exchange, None when it has none, or False when the look-up failed."""
        try:
            return self._client.get_order_list(orig_client_order_id=ex.list_client_order_id)
        except binance.OrderNotFound:
            return None
        except binance.ExchangeError as exc:
            log.warning("exit_lookup_failed", id=ex.signal_id, error=exc.code)
            return False

    def _resolve_sending(self, ex: ExitRow) -> None:
        found = self._look_up(ex)
        if found is False:
            return
        if found is not None:
            log.info("exit_found", id=ex.signal_id, list_id=ex.list_client_order_id,
                     detail="journaled and sent before; found on the exchange, not resent")
            self._opened(ex, found)
            return
        settled_at = max(ex.updated_at, self._locked_at_ms) + self._settle_ms
        if self._clock.now_ms() < settled_at:
            return     # a request sent for it may still be executed: look again later
        now = self._clock.now_ms()
        self._store.exit_update(ex.signal_id, "sending", now, durable=True)   # the resend's claim
        log.info("exit_resent", id=ex.signal_id, list_id=ex.list_client_order_id,
                 detail="journaled, proven absent on the exchange: sent again with the same ids")
        plan = ExitPlan(ex.symbol, ex.side, Decimal(ex.quantity), Decimal(ex.take_profit), Decimal(ex.stop_price),
                        exit_ids(ex.signal_id))
        self._send(ExitRow(**{**ex.__dict__, "updated_at": now}), plan)

    def _follow_exit(self, ex: ExitRow) -> str | None:
        """Look an open list up; record its end. Returns how it ended, or None while it runs."""
        found = self._look_up(ex)
        if not found or not found.done:
            return None
        return self._ended(ex)

    def _ended(self, ex: ExitRow) -> str:
        ids = exit_ids(ex.signal_id)
        for leg, client_id in (("take_profit", ids.take_profit), ("stop_loss", ids.stop_loss)):
            order = self._client.get_order(symbol=ex.symbol, orig_client_order_id=client_id)
            if order.status == "FILLED" or Decimal(order.executed_qty) > 0:
                self._store.exit_update(ex.signal_id, "done", self._clock.now_ms(), ended_by=leg,
                                        exit_qty=canonical(Decimal(order.executed_qty)),
                                        exit_quote=canonical(Decimal(order.cummulative_quote_qty)))
                log.info("exit_filled", id=ex.signal_id, leg=leg, list_id=ex.list_client_order_id,
                         executed_qty=canonical(order.executed_qty),
                         cummulative_quote_qty=canonical(order.cummulative_quote_qty))
                self._record_profit(ex.signal_id, ex.list_client_order_id, ex.symbol, str(order.order_id), client_id)
                return leg
        self._store.exit_update(ex.signal_id, "closed", self._clock.now_ms(), ended_by="canceled")
        log.info("exit_cancelled", id=ex.signal_id, list_id=ex.list_client_order_id)
        return "canceled"

    # -- realised profit (issue 15 item 5) -----------------------------------------------------------
    def after_close(self, close_id: str) -> None:
        """A close signal's MARKET order filled: record the trade's realised profit."""
        row = self._store.signal("live", close_id)
        if row is not None and row.closes is not None and row.order_id is not None:
            self._record_profit(row.closes, close_id, row.symbol, row.order_id, close_id)

    def _journal_fills(self, symbol: str, order_id: str, client_id: str) -> None:
        trades = self._client.order_trades(symbol=symbol, order_id=int(order_id))
        self._store.add_fills([(symbol, t.id, order_id, client_id, "BUY" if t.is_buyer else "SELL",
                                canonical(t.price), canonical(t.qty), canonical(t.commission), t.commission_asset)
                               for t in trades])

    def _leg_of(self, symbol: str, order_id: str) -> Leg:
        rows = self._store.fills_of(symbol, order_id)
        if not rows:
            raise ProfitError(f"no fills journaled for order {order_id}")
        return Leg(rows[0][0], tuple(TradeFill(Decimal(p), Decimal(q), Decimal(c), a) for _, p, q, c, a in rows))

    def _record_profit(self, entry_id: str, closing_id: str, symbol: str, closing_order_id: str,
                       closing_client_id: str) -> None:
        """From the journaled fills of the entry and of the order that closed it; a profit that
        cannot be known is not recorded (nothing is swept for it) and is logged."""
        entry = self._store.signal("live", entry_id)
        rules = self._rules.get(symbol)
        try:
            if entry is None or entry.order_id is None or rules is None:
                raise ProfitError(f"entry {entry_id} has no order on the exchange")
            if not self._store.fills_of(symbol, entry.order_id):
                self._journal_fills(symbol, entry.order_id, entry_id)
            self._journal_fills(symbol, closing_order_id, closing_client_id)
            profit = realised_profit(self._leg_of(symbol, entry.order_id), self._leg_of(symbol, closing_order_id),
                                     rules.base_asset, rules.quote_asset)
        except (ProfitError, binance.ExchangeError) as exc:
            log.warning("profit_unknown", entry=entry_id, closing=closing_id, error=getattr(exc, "code", "error"),
                        detail=str(exc)[:200])
            self._on_exit(f"profit:{closing_id}")     # a free-above-keep sweep still looks
            return
        if self._store.add_profit(closing_id, entry_id, rules.quote_asset, canonical(profit), self._clock.now_ms()):
            log.info("profit_realised", entry=entry_id, closing=closing_id, asset=rules.quote_asset,
                     amount=canonical(profit))
        self._on_exit(f"profit:{closing_id}")

    # -- close signals ------------------------------------------------------------------------------
    def prepare_close(self, signal: Signal) -> Decimal | Refusal:
        """Cancel what the entry still has working; the quantity the close sells, or a Refusal."""
        assert signal.closes is not None
        entry = self._store.signal("live", signal.closes)
        if entry is None or entry.state != "placed" or entry.action != "open":
            return Refusal("nothing_to_close", f"no placed entry {signal.closes}")
        if signal.side == entry.side:
            return Refusal("close_wrong_side", f"entry {entry.id} was a {entry.side}; its close is the other side")
        earlier = self._store.closes_of("live", entry.id, signal.id)
        if earlier:
            return Refusal("already_exited", f"entry {entry.id} was closed by {earlier[0].id}")
        if entry.order_status in ("NEW", "PARTIALLY_FILLED"):
            self._expire_entry(entry)
            entry = self._store.signal("live", entry.id) or entry
        ex = self._store.exit(entry.id)
        if ex is not None and ex.state == "done":
            return Refusal("already_exited", f"entry {entry.id} ended by its {ex.ended_by}")
        rules = self._rules.get(entry.symbol)
        try:   # before the exit is cancelled: a close that cannot sell leaves the exit working
            quantity = close_quantity(self.held_quantity(entry, rules), rules) if rules else Decimal(0)
        except binance.ExchangeError as exc:
            return Refusal("exit_cancel_unknown", f"the entry's fills could not be read ({exc.code}); close again")
        if quantity <= 0:
            return Refusal("nothing_to_close", f"entry {entry.id} has no filled quantity")
        if ex is not None and ex.state in ("sending", "open"):
            ended = self._cancel_exit(ex)
            if isinstance(ended, Refusal):
                return ended
        return quantity

    def _cancel_exit(self, ex: ExitRow) -> Refusal | None:
        try:
            self._client.cancel_order_list(symbol=ex.symbol, list_client_order_id=ex.list_client_order_id)
        except binance.ExchangeError as exc:
            if exc.binance_code != UNKNOWN_ORDER_SENT:
                log.warning("exit_cancel_failed", id=ex.signal_id, error=exc.code, detail=exc.message)
                return Refusal("exit_cancel_unknown", f"cancelling {ex.list_client_order_id} failed: {exc.code}")
            found = self._look_up(ex)     # not executing: never placed, or ended already
            if found and found.done and self._ended(ex) != "canceled":
                return Refusal("already_exited", f"entry {ex.signal_id}'s exit filled before the close")
            if found is False:
                return Refusal("exit_cancel_unknown", "the list could not be looked up")
            if found is None and ex.state == "sending" and \
                    self._clock.now_ms() < max(ex.updated_at, self._locked_at_ms) + self._settle_ms:
                return Refusal("exit_cancel_unknown", "the list may still be placed; close again later")
        self._store.exit_update(ex.signal_id, "closed", self._clock.now_ms(), durable=True, ended_by="close")
        log.info("exit_cancelled", id=ex.signal_id, list_id=ex.list_client_order_id, detail="a close signal")
        return None
