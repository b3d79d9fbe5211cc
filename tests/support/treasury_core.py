"""Shared pieces for the treasury core's tests: the tests' policy parsed (make_policy;
its text is tests.support.treasury.policy_text), a real ledger file, intents decided
through the real decider, and a small FAKE EXCHANGE.

The fake stands in for our own port (the two BinanceClient methods the executor and the
poller call), never for the code under test: it records every call, can be scripted to
answer with ids or to raise any of common/binance/errors.py's errors, and keeps a withdraw
history in which a withdrawal is present or not, as the test decides.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from common.binance import Amount, WithdrawRecord
from common.clock import FakeClock
from common.messages import TransferIntent, encode
from tests.support.treasury import COIN_RULES, COLD_ADDRESS, policy_text
from tests.support.ledger_peek import peek, peek_one
from treasury_bot.decider import DecisionContext, Incoming, decide_batch
from treasury_bot.ledger import Ledger
from treasury_bot.policy_file import parse_policy
from treasury_bot.policy_model import Policy

T0 = 1_700_000_000_000
HOUR_MS = 3_600_000


def make_policy(**over: Any) -> Policy:
    return parse_policy(policy_text(**over))


def open_ledger(path: Path) -> Ledger:
    return Ledger(path)


def transfer_intent(intent_id: str, amount: str = "100", *, destination: str = "cold-wallet",
                    created_at: int = T0, reason: str = "sweep", coin: str = "USDT",
                    network: str = "TRX") -> TransferIntent:
    return TransferIntent(intent_id=intent_id, coin=coin, network=network, destination=destination,
                          amount=amount, reason=reason, created_at=created_at)


def incoming(intent_id: str, amount: str = "100", *, client: str = "signal", **over: Any) -> Incoming:
    intent = transfer_intent(intent_id, amount, **over)
    return Incoming(client=client, intent=intent, raw=encode(intent))


def context(policy: Policy, now_ms: int, *, usable_from: dict | None = None, coin_rules=None) -> DecisionContext:
    return DecisionContext(policy, COIN_RULES if coin_rules is None else coin_rules,
                           {d.label: 0 for d in policy.destinations} if usable_from is None else usable_from,
                           now_ms)


def decide(ledger: Ledger, policy: Policy, clock: FakeClock, *items: Incoming, usage=None):
    """Decide `items` as one batch at the clock's time, through the real decider."""
    return decide_batch(ledger, list(items), context(policy, clock.now_ms()), usage)


def accept(ledger: Ledger, policy: Policy, clock: FakeClock, intent_id: str, amount: str = "100",
           **over: Any):
    """An intent accepted now (created now, so never stale); returns its ledger record."""
    result = decide(ledger, policy, clock, incoming(intent_id, amount, created_at=clock.now_ms(), **over))
    assert result.replies[0].outcome in ("accepted", "pending_approval"), result.replies[0]
    return ledger.get_intent(intent_id)


def count(ledger: Ledger, table: str, where: str = "", *params: Any) -> int:
    sql = f"SELECT COUNT(*) FROM {table}" + (f" WHERE {where}" if where else "")
    return peek_one(ledger, sql, *params)


def alerts(ledger: Ledger, kind: str | None = None) -> list[tuple]:
    """(kind, severity, intent_id) of the outbox rows, oldest first."""
    rows = peek(ledger, "SELECT kind, severity, intent_id FROM alert_outbox ORDER BY seq")
    return [row for row in rows if kind is None or row[0] == kind]


def statuses(ledger: Ledger, intent_id: str) -> list[str]:
    record = ledger.get_intent(intent_id)
    return [row[2] for row in ledger.transitions_of(record)]


# -- the fake exchange -----------------------------------------------------------------------

@dataclass
class Applied:
    """A scripted apply outcome: `id` to answer with, `error` to raise, and whether the
    exchange executed it anyway (an error after the withdrawal was made: 5XX, timeout)."""

    error: Exception | None = None
    executed: bool = True
    id: str | None = None


@dataclass
class FakeExchange:
    """The executor's and the poller's port (treasury_bot.exchange.WithdrawalDesk, checked by
    test_exchange_seams): withdraw_apply / withdraw_history, recorded and scriptable."""

    apply_script: deque = field(default_factory=deque)
    history_script: deque = field(default_factory=deque)   # exceptions to raise, in turn; None = answer
    history: dict[str, WithdrawRecord] = field(default_factory=dict)
    applies: list[dict] = field(default_factory=list)
    lookups: list[dict] = field(default_factory=list)
    windows: list[tuple] = field(default_factory=list)   # (start, end, offset, limit) the watch asked
    next_number: int = 1
    initial_status: int = 4
    filter_by_order_id: bool = True   # False: answer every withdrawal, as a careless API might
    recv_window_ms: int = 5000        # BinanceClient's default
    time_offset_ms: int = 0           # exchange clock - host clock, as a sync would measure it

    def script_apply(self, *outcomes: Applied | Exception) -> None:
        for outcome in outcomes:
            self.apply_script.append(outcome if isinstance(outcome, Applied) else Applied(outcome, False))

    def script_history(self, *outcomes: Exception | None) -> None:
        self.history_script.extend(outcomes)

    def withdraw_apply(self, *, coin: str, network: str, address: str, amount: Decimal,
                       withdraw_order_id: str, address_tag: str | None = None,
                       wallet_type: int | None = None) -> str:
        self.applies.append(dict(coin=coin, network=network, address=address, amount=amount,
                                 withdraw_order_id=withdraw_order_id, address_tag=address_tag,
                                 wallet_type=wallet_type))
        outcome = self.apply_script.popleft() if self.apply_script else Applied()
        withdrawal_id = outcome.id or f"w-{self.next_number}"
        if outcome.executed:
            self.next_number += 1
            self.contain(withdrawal_id, withdraw_order_id, amount=amount, coin=coin, network=network,
                         address=address)
        if outcome.error is not None:
            raise outcome.error
        return withdrawal_id

    def contain(self, withdrawal_id: str, withdraw_order_id: str | None, *, status: int | None = None,
                amount: Decimal = Decimal("100"), coin: str = "USDT", network: str = "TRX",
                address: str = COLD_ADDRESS, tx_id: str | None = None, info: str | None = None) -> None:
        """Put a withdrawal in the exchange's history (as if applied, maybe earlier)."""
        self.history[withdrawal_id] = WithdrawRecord(
            id=withdrawal_id, amount=Amount(amount), transaction_fee=Amount("1"), coin=coin, address=address,
            status=self.initial_status if status is None else status, apply_time="2023-11-14 22:13:20",
            withdraw_order_id=withdraw_order_id, network=network, tx_id=tx_id, info=info)

    def set_status(self, withdrawal_id: str, status: int, *, tx_id: str | None = None,
                   info: str | None = None) -> None:
        import msgspec
        self.history[withdrawal_id] = msgspec.structs.replace(self.history[withdrawal_id], status=status,
                                                              tx_id=tx_id, info=info)

    def withdrawals_between(self, *, start_time: int, end_time: int, offset: int = 0,
                            limit: int = 1000) -> list[WithdrawRecord]:
        """The foreign-withdrawal watch's read (issue 13): every withdrawal held, one page
        (the fake keeps no apply times; the windows asked for are recorded in `windows`)."""
        self.windows.append((start_time, end_time, offset, limit))
        if self.history_script:
            error = self.history_script.popleft()
            if error is not None:
                raise error
        return list(self.history.values())[offset:offset + limit]

    def withdraw_history(self, *, withdraw_order_id: str | None = None, id_list=None, coin=None,
                         start_time: int | None = None, end_time: int | None = None, status=None,
                         limit=None, offset=None) -> list[WithdrawRecord]:
        self.lookups.append(dict(withdraw_order_id=withdraw_order_id, id_list=list(id_list) if id_list else None,
                                 start_time=start_time, end_time=end_time))
        if self.history_script:
            error = self.history_script.popleft()
            if error is not None:
                raise error
        if id_list is not None:
            return [self.history[i] for i in id_list if i in self.history]
        return [r for r in self.history.values()
                if withdraw_order_id is None or not self.filter_by_order_id
                or r.withdraw_order_id == withdraw_order_id]


def step_executor_for(executor, clock, seconds: float, tick: float = 1.0) -> None:
    """Step the executor while `seconds` of fake time pass, `tick` at a time, as its loop would."""
    elapsed = 0.0
    while elapsed < seconds:
        executor.step()
        clock.advance(tick)
        elapsed += tick
