"""The one place that builds the signal bot's objects from its settings.

Building touches nothing: no socket is opened or bound, no file read or created, no
request sent. Each object does its I/O in an explicit step that signal_bot/app.py calls
in the start order (`InstanceLock.acquire`, `StateStore.open`, the workers' `start`,
`WebhookServer.start`). What the build needs from the exchange or the key files (the
client that passed the self-audit, the CURVE keys, the symbol rules) comes in as
`Started`, the result of the start's self-audit.

The order desk is built here once per process, for `run` (the order worker's) or for
`replay` (the replay loop's); the tests build their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests

from common import binance
from common.clock import Clock
from common.config import SignalSettings
from common.curve import KeyPair
from common.intent_client import EventSubscriber, IntentClient
from signal_bot.config_file import SignalConfig, Treasury
from signal_bot.events import EventListener
from signal_bot.instance_lock import InstanceLock
from signal_bot.intake import Intake
from signal_bot.order_worker import OrderWorker
from signal_bot.exits import ExitDesk
from signal_bot.orders import OrderDesk
from signal_bot.prices import PriceSource
from signal_bot.risk import RiskLimits
from signal_bot.state import StateStore
from signal_bot.sweep import SweepWorker
from signal_bot.symbol_rules import SymbolRules
from signal_bot.webhook import WebhookServer

DEFAULT_SWEEP_RETRY_SECONDS = 30.0


@dataclass
class Started:
    """What the start's self-audit established: the keys, the audited client, the symbol rules."""

    keys: KeyPair
    server_public: bytes
    client: binance.BinanceClient
    rules: dict[str, SymbolRules]


@dataclass
class RunBot:
    """`signal-bot run`'s objects, built and not started."""

    journal: StateStore          # the webhook's journal connection (intake), opened by app
    intake: Intake
    sweeper: SweepWorker
    desk: OrderDesk
    orders: OrderWorker
    events: EventListener
    server: WebhookServer        # bound by its start()


@dataclass
class ReplayBot:
    """`signal-bot replay`'s objects, built and not started."""

    store: StateStore            # the desk's connection, opened by app
    sweeper: SweepWorker
    desk: OrderDesk


def instance_lock(settings: SignalSettings) -> InstanceLock:
    return InstanceLock(settings.state_path)


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
    """An exchange client; its clock offset is measured by whoever starts using it (`sync_time`)."""
    return binance.BinanceClient(settings.base_url, settings.credentials.key, settings.credentials.secret,
                                 clock=clock, session=exchange_session(settings.base_url))


def intent_client(settings: SignalSettings, keys: KeyPair, server_public: bytes, treasury: Treasury) -> IntentClient:
    """A REQ client of the treasury (Lazy Pirate); its socket opens at the first request."""
    return IntentClient(settings.intent_endpoint, keys, server_public,
                        timeout=treasury.timeout_seconds, retries=treasury.retries)


def limits(config: SignalConfig) -> RiskLimits:
    return RiskLimits(frozenset(config.risk.symbols), config.risk.max_quote, config.risk.max_orders_per_minute,
                      config.orders.time_in_force)


def sweep_worker(settings: SignalSettings, config: SignalConfig, started: Started, clock: Clock) -> SweepWorker:
    """The sweeps' worker; it opens its own state connection and makes its clients on its thread."""
    def make_exchange() -> binance.BinanceClient:
        client = make_client(settings, clock)
        client.sync_time()
        return client

    def make_intent_client() -> IntentClient:
        return intent_client(settings, started.keys, started.server_public, config.treasury)

    retry = config.sweep.retry_seconds if config.sweep else DEFAULT_SWEEP_RETRY_SECONDS
    return SweepWorker(StateStore(settings.state_path), config.sweep, make_exchange, make_intent_client, clock,
                       retry_seconds=retry)


def order_desk(config: SignalConfig, started: Started, store: StateStore, sweeper: SweepWorker,
               clock: Clock, *, dry_run: bool, locked_at_ms: int = 0) -> OrderDesk:
    """The order desk, trading with the audited client; its fills go to the sweeps; its
    exit desk (issue 15 item 4) shares its client, its connection and its lock."""
    prices = PriceSource(started.client.ticker_price)

    def exits(desk: OrderDesk) -> ExitDesk:
        ttl = config.exits.limit_ttl_seconds
        return ExitDesk(started.client, store, started.rules, clock, settle_ms=desk.settle_ms,
                        locked_at_ms=locked_at_ms, limit_ttl_ms=None if ttl is None else ttl * 1000,
                        poll_ms=int(config.exits.poll_seconds * 1000),
                        last_price=PriceSource(started.client.ticker_price, ttl=0.0).last_price,
                        on_exit=sweeper.after_exit)
    return OrderDesk(started.client, store, started.rules, limits(config), clock, dry_run=dry_run,
                     last_price=prices.last_price, on_fill=sweeper.after_fill,
                     recv_window_ms=started.client.recv_window_ms,
                     max_signal_age_ms=config.orders.max_signal_age_seconds * 1000, exits=exits)


def build_run(settings: SignalSettings, config: SignalConfig, started: Started, clock: Clock, *,
              dry_run: bool, locked_at_ms: int) -> RunBot:
    """`run`: the journal and its intake, the order worker and its desk, the sweeps, the events, the webhook.

    Two connections to the state file: the webhook threads' journal (shared among them,
    no checkpoints on the path to the 202) and the desk's (used by whichever thread holds
    the desk lock); the sweeps open their own.
    """
    journal = StateStore(settings.state_path, shared=True, autocheckpoint=False)
    intake = Intake(journal, "test" if dry_run else "live", config.webhook.queue_size, clock)
    sweeper = sweep_worker(settings, config, started, clock)
    store = StateStore(settings.state_path, shared=True)
    desk = order_desk(config, started, store, sweeper, clock, dry_run=dry_run, locked_at_ms=locked_at_ms)
    orders = OrderWorker(desk, store, intake.queue, clock, locked_at_ms)
    events = EventListener(lambda: EventSubscriber(settings.event_endpoint, started.keys, started.server_public),
                           on_event=sweeper.on_event)
    server = WebhookServer(settings.webhook_host, settings.webhook_port, settings.webhook_secret,
                           intake.submit, after_accept=orders.run_queued,
                           profile=config.feed.profile_rules(), access=config.access.rules())
    return RunBot(journal, intake, sweeper, desk, orders, events, server)


def build_replay(settings: SignalSettings, config: SignalConfig, started: Started, clock: Clock, *,
                 dry_run: bool) -> ReplayBot:
    """`replay`: the desk (its own connection, on the replay thread) and the sweeps."""
    sweeper = sweep_worker(settings, config, started, clock)
    store = StateStore(settings.state_path)
    return ReplayBot(store, sweeper, order_desk(config, started, store, sweeper, clock, dry_run=dry_run))
