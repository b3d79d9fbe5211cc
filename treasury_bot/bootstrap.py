"""The one place that builds the treasury's objects from its settings.

Building touches nothing: no socket is opened or bound, no request sent, no file read.
The I/O is in the steps treasury_bot/app.py runs in the start order (docs/architecture.md,
"At start"): `sync_clock` on a client, `AnchoredClock.measure`, `Authenticator.start`,
`IntentServer.open`, `AlertSender.start`, each worker's `run`. The ledger connections are
opened by app.py (one per thread, on that thread) and handed in here.

Each worker thread gets its own exchange client (`exchange_client`), as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import zmq

from common.binance import BinanceClient
from common.clock import Clock
from common.config import ConfigError, TreasurySettings
from common.curve import KeyPair, load_key_pair
from treasury_bot.alerts.sender import AlertSender
from treasury_bot.coin_rules import CoinRulesCache
from treasury_bot.decider import DecisionContext
from treasury_bot.exchange import WithdrawalDesk
from treasury_bot.executor import Executor
from treasury_bot.foreign_watch import ForeignWatch
from treasury_bot.quota_guard import QuotaGuard
from treasury_bot.ledger import Ledger
from treasury_bot.loosening import Resolution
from treasury_bot.policy_file import LoadedPolicy
from treasury_bot.policy_in_force import LivePolicy
from treasury_bot.policy_model import Policy
from treasury_bot.poller import Poller
from treasury_bot.server import Authenticator, IntentServer
from treasury_bot.travel_rule import TravelRule
from treasury_bot.travel_rule_desk import TravelRuleDesk
from treasury_bot.trusted_clock import AnchoredClock, ClockWatch, host_clock

__all__ = ["Pacing", "Workers", "alert_sender", "authenticator", "clock_watch", "coin_rules", "decisions",
           "exchange_client", "host_clock", "intent_server", "pacing", "trusted_clock"]

RECONCILE_FLOOR_S = 15.0   # look-ups cost what a poll costs; against Binance, never faster than this


def exchange_client(settings: TreasurySettings, clock: Clock) -> BinanceClient:
    """One exchange client (one per thread); its offset is measured by `app.sync_clock`, a start step.

    The treasury's clients sign with the exchange-anchored clock (issue 10): a host clock
    step then causes no -1021 at all, and `clock.now_ms() + client.time_offset_ms` stays
    the exchange's time for every caller that holds the same clock."""
    from treasury_bot import key_ring  # issue 16: the key in use now (a reload may have rotated it)
    credentials = key_ring.current(settings.ledger_path, settings.credentials)
    return key_ring.track(settings.ledger_path, BinanceClient(settings.base_url, credentials.key,
                                                              credentials.secret, clock=clock))


def trusted_clock(settings: TreasurySettings, host: Clock) -> AnchoredClock:
    """The treasury's clock, anchored to the exchange's (by `measure`, at start), read through
    a client of its own that signs on the host clock (it only asks the time)."""
    return AnchoredClock(host, exchange_client(settings, host).server_time)


def clock_watch(clock: AnchoredClock, ledger: Ledger) -> ClockWatch:
    """The host/exchange clock watch (its first check is a start step, then a thread)."""
    return ClockWatch(clock, ledger)


def alert_sender(settings: TreasurySettings, clock: Clock) -> AlertSender:
    """The outbox's mailer (its own ledger connection, opened on its thread)."""
    return AlertSender(settings.ledger_path, settings.smtp, clock=clock)


def coin_rules(settings: TreasurySettings, clock: Clock) -> CoinRulesCache:
    """The coin-rules cache and refresher, with its own exchange client."""
    every_s = settings.sandbox_rules_seconds or 300.0  # issue 12: the sandbox may refresh faster
    return CoinRulesCache(exchange_client(settings, clock), settings.ledger_path, clock, every_s=every_s)


def decisions(loaded: LoadedPolicy, resolution: Resolution, cache: CoinRulesCache,
              clock: Clock, live: LivePolicy | None = None) -> Callable[[], DecisionContext]:
    """What each batch is decided against: the policy IN FORCE now (docs/design.md section 9), a
    pending loosening applying once its time has come, and the cached coin rules. `live` is
    the running treasury's shared holder (a reload swaps what it holds: issue 16)."""
    live = live or LivePolicy(loaded.policy, resolution)

    def decision_context() -> DecisionContext:
        now = clock.now_ms()
        current = live.at(now)
        return DecisionContext(current.effective, cache.rules, current.usable_from, now,
                               rules_fetched_at_ms=cache.fetched_at_ms,
                               address_book=cache.watch.reading if cache.watch is not None else None)
    return decision_context


def authenticator(settings: TreasurySettings, context: zmq.Context) -> Authenticator:
    operators = str(settings.operator_certs_dir) if settings.operator_certs_dir is not None else None
    return Authenticator(context, str(settings.authorized_clients_dir), operators)


def intent_server(settings: TreasurySettings, context: zmq.Context, keys: KeyPair, clients: dict[bytes, str],
                  ledger: Ledger, decision_context: Callable[[], DecisionContext], clock: Clock,
                  keys_next: KeyPair | None = None) -> IntentServer:
    """The ROUTER/PUB server on the main thread's ledger connection; bound by its `open`.
    With `keys_next` (issue 16 item 3) it also serves TREASURY_INTENT_ENDPOINT_NEXT and
    TREASURY_EVENT_ENDPOINT_NEXT with the new key pair, through the same ledger and decider."""
    following = settings.curve_next
    return IntentServer(context=context, keys=keys, clients=clients, intent_endpoint=settings.intent_endpoint,
                        event_endpoint=settings.event_endpoint, ledger=ledger,
                        context_for_decisions=decision_context, clock=clock,
                        next_keys=keys_next if following is not None else None,
                        next_endpoints=(following.intent_endpoint, following.event_endpoint)
                        if following is not None and keys_next is not None else None)


def next_key_pair(settings: TreasurySettings, keys: KeyPair) -> KeyPair | None:
    """Issue 16 item 3: the new CURVE pair of TREASURY_CURVE_SECRET_FILE_NEXT, never the old one again."""
    if settings.curve_next is None:
        return None
    pair = load_key_pair(settings.curve_next.secret_file, "TREASURY_CURVE_SECRET_FILE_NEXT")
    if pair.public == keys.public:
        raise ConfigError("TREASURY_CURVE_SECRET_FILE_NEXT holds the same key pair as TREASURY_CURVE_SECRET_FILE: "
                          "the second endpoint is for a NEW pair (treasuryctl keys generate treasury-next)")
    return pair


@dataclass(frozen=True)
class Pacing:
    """How often the poller polls and the executor looks up unknown outcomes."""

    poll_s: float
    reconcile_s: float
    sandbox: bool          # TREASURY_SANDBOX_POLL_SECONDS overrides the policy's interval


def pacing(settings: TreasurySettings, policy: Policy) -> Pacing:
    poll_s = float(policy.limits.poll_interval_seconds)
    sandbox = settings.sandbox_poll_seconds is not None
    if settings.sandbox_poll_seconds is not None:
        poll_s = settings.sandbox_poll_seconds
    # Look-ups cost what a poll costs: pace them like polls (sandbox: as fast as polls).
    reconcile_s = 2 * poll_s if sandbox else max(RECONCILE_FLOOR_S, 2 * poll_s)
    return Pacing(poll_s, reconcile_s, sandbox)


@dataclass(frozen=True)
class Workers:
    """Builds the worker threads' objects, each on the ledger connection its thread opened."""

    settings: TreasurySettings
    policy: Policy           # the policy in force at start
    pacing: Pacing
    clock: AnchoredClock
    travel_rule: TravelRule | None = None   # issue 12 item 5: withdraw through the local entity

    def exchange(self) -> BinanceClient:
        return exchange_client(self.settings, self.clock)

    def desk(self, client: BinanceClient) -> WithdrawalDesk:
        """Where withdrawals are applied and looked up: the capital endpoints, or the Travel
        Rule's with each destination's questionnaire (the executor and poller do not branch)."""
        return client if self.travel_rule is None else TravelRuleDesk(client, self.travel_rule)

    def executor(self, ledger: Ledger, client: BinanceClient) -> Executor:
        return Executor(ledger, self.desk(client), self.policy, self.clock, api_key=self.settings.credentials.key,
                        reconcile_every_s=self.pacing.reconcile_s,
                        key_check=client,  # the follow-up read after a key refusal
                        quota=QuotaGuard(client))  # issue 12 item 4: the 24 h quota before each apply

    def poller(self, ledger: Ledger, client: BinanceClient) -> Poller:
        return Poller(ledger, self.desk(client), self.clock, interval_s=self.pacing.poll_s,
                      stuck_after_minutes=self.policy.limits.stuck_after_minutes)

    def clock_watch(self, ledger: Ledger) -> ClockWatch:
        return clock_watch(self.clock, ledger)

    def foreign_watch(self, ledger: Ledger, client: BinanceClient) -> ForeignWatch:
        """Issue 13 item 5: the account's withdrawal history, capital or local-entity as the desk is."""
        history = client if self.travel_rule is None else TravelRuleDesk(client, self.travel_rule)
        return ForeignWatch(ledger, history, self.clock, self.policy)
