"""Building blocks for treasury tests: CURVE keys, a policy file, coin rules, an in-process server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import zmq

from common import messages
from common.clock import Clock, SystemClock
from common.curve import KeyPair, generate, load_authorized_clients, load_key_pair, load_public_key
from common.intent_client import IntentClient
from demo.policy_text import CoinTable, DestinationTable, policy_toml
from treasury_bot.decider import DecisionContext
from treasury_bot.ledger import Ledger
from treasury_bot.policy_file import parse_policy
from treasury_bot.policy_model import Policy
from treasury_bot.withdraw_rules import NetworkRule
from treasury_bot.server import Authenticator, IntentServer
from tests.support.ports import free_port
from tests.support.waiting import wait_until

# Addresses that match the sandbox's and the coin rules' TRX regex; obviously not real.
COLD_ADDRESS = "TTestCo1dWa11etFakeAddress99999999"
HOT_ADDRESS = "TTestHotWa11etFakeAddress888888888"

HOT_WALLET = DestinationTable("hot-wallet", HOT_ADDRESS, clients=("other",))


def policy_text(*, quarantine_hours: str = "0", window_hours: int = 24, per_hour: int = 20,
                max_per_transfer: str = "1000", window_cap: str = "5000", approval_above: str | None = "800",
                min_seconds: str = "0", stuck_after_minutes: int = 60, grace_seconds: int = 60,
                deadline_minutes: int = 30, cold_address: str = COLD_ADDRESS, cold_tag: str | None = None,
                cold_window_cap: str | None = None, cold_max: str | None = "900", **more: Any) -> str:
    """The treasury tests' policy: USDT only (1000 a transfer, 5000 a day, approval above
    800), cold-wallet (at most 900, every client) and hot-wallet (client "other" only).
    The keywords name what the tests vary; `more` goes to policy_toml as it is."""
    cold = DestinationTable("cold-wallet", cold_address, tag=cold_tag, max_per_transfer=cold_max,
                            window_cap=cold_window_cap)
    return policy_toml(
        [cold, HOT_WALLET],
        coins={"USDT": CoinTable(max_per_transfer, window_cap, approval_above)},
        quarantine_hours=quarantine_hours, window_hours=window_hours, max_transfers_per_hour=per_hour,
        min_seconds_between_withdrawals=min_seconds, stuck_after_minutes=stuck_after_minutes,
        reconcile_grace_seconds=grace_seconds, reconcile_deadline_minutes=deadline_minutes, **more)


POLICY_TOML = policy_text()   # the in-process server's

TRX_RULE = NetworkRule(coin="USDT", network="TRX", withdraw_enable=True, withdraw_min=Decimal("10"),
                       withdraw_max=Decimal("100000"), withdraw_multiple=Decimal("0.000001"),
                       address_regex=r"^T[1-9A-HJ-NP-Za-km-z]{33}$", memo_regex="")
COIN_RULES = {("USDT", "TRX"): TRX_RULE}


@dataclass(frozen=True)
class CurveFiles:
    folder: Path
    treasury_secret: Path
    treasury_public: Path
    clients_dir: Path
    client_secrets: dict[str, Path]

    def keys(self, name: str) -> KeyPair:
        return load_key_pair(self.client_secrets[name], name)

    @property
    def server_public(self) -> bytes:
        return load_public_key(self.treasury_public, "treasury")


def make_curve(folder: Path, authorized=("signal", "other"), unlisted=("intruder",)) -> CurveFiles:
    """A treasury key pair, client pairs in `authorized` (allow-listed) and `unlisted`."""
    keys_dir = folder / "keys"
    clients_dir = folder / "authorized_clients"
    clients_dir.mkdir(parents=True, exist_ok=True)
    public, secret = generate(keys_dir, "treasury")
    secrets = {}
    for name in (*authorized, *unlisted):
        client_public, client_secret = generate(keys_dir, name)
        secrets[name] = client_secret
        if name in authorized:
            (clients_dir / client_public.name).write_bytes(client_public.read_bytes())
    return CurveFiles(folder, secret, public, clients_dir, secrets)


def policy(text: str = POLICY_TOML) -> Policy:
    return parse_policy(text)


def open_ledger(path: Path) -> Ledger:
    return Ledger(path)


class InProcessServer:
    """The real IntentServer on real CURVE sockets, in a thread, with a real ledger file."""

    def __init__(self, tmp: Path, curve: CurveFiles, the_policy: Policy, *,
                 coin_rules=None, usable_from=None, clock: Clock | None = None,
                 rotating: bool = False) -> None:
        self.curve = curve
        # Issue 16 item 3: a second endpoint pair with a new treasury key ("treasury-next").
        self.next_public: Path | None = None
        self.next_secret: Path | None = None
        self.next_intent_endpoint = self.next_event_endpoint = ""
        if rotating:
            self.next_public, self.next_secret = generate(curve.folder / "keys", "treasury-next")
            self.next_intent_endpoint = f"tcp://127.0.0.1:{free_port()}"
            self.next_event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.ledger_path = tmp / "ledger.sqlite"
        self.intent_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.policy = the_policy
        self.coin_rules = COIN_RULES if coin_rules is None else coin_rules
        self.usable_from = usable_from if usable_from is not None else {
            d.label: 0 for d in the_policy.destinations}
        self.clock = clock or SystemClock()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        context = zmq.Context()
        auth = None
        server = None
        ledger = None
        try:
            ledger = open_ledger(self.ledger_path)
            auth = Authenticator(context, str(self.curve.clients_dir)).start()
            server = IntentServer(
                context=context, keys=load_key_pair(self.curve.treasury_secret, "treasury"),
                clients=load_authorized_clients(self.curve.clients_dir),
                intent_endpoint=self.intent_endpoint, event_endpoint=self.event_endpoint,
                ledger=ledger, context_for_decisions=lambda: DecisionContext(
                    self.policy, self.coin_rules, self.usable_from, self.clock.now_ms()),
                clock=self.clock,
                next_keys=load_key_pair(self.next_secret, "treasury-next") if self.next_secret else None,
                next_endpoints=(self.next_intent_endpoint, self.next_event_endpoint) if self.next_secret else None,
            ).open()
            self.ready.set()
            server.serve(self.stop)
        except BaseException as exc:  # surfaced to the test by `start`
            self.error = exc
            self.ready.set()
        finally:
            if server is not None:
                server.close()
            if auth is not None:
                auth.stop()
            context.destroy(linger=0)
            if ledger is not None:
                ledger.close()

    def start(self) -> "InProcessServer":
        self.thread.start()
        wait_until(self.ready.is_set, timeout=10, what="in-process treasury server")
        if self.error is not None:
            raise self.error
        return self

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)

    def client(self, name: str, *, timeout: float = 2.0, retries: int = 2) -> IntentClient:
        return IntentClient(self.intent_endpoint, self.curve.keys(name), self.curve.server_public,
                            timeout=timeout, retries=retries)

    def client_next(self, name: str, *, timeout: float = 2.0, retries: int = 2,
                    server_public: bytes | None = None) -> IntentClient:
        """A client of the rotation's second endpoint, with the NEW treasury key (or the one given)."""
        public = server_public or load_public_key(self.next_public, "treasury-next")
        return IntentClient(self.next_intent_endpoint, self.curve.keys(name), public,
                            timeout=timeout, retries=retries)


def wire_intent(intent_id: str, amount: str = "100", destination: str = "cold-wallet", **over):
    """A TransferIntent as a signal bot would send it now (USDT on TRX to cold-wallet)."""
    fields = dict(intent_id=intent_id, coin="USDT", network="TRX", destination=destination,
                  amount=amount, reason="sweep", created_at=int(time.time() * 1000))
    fields.update(over)
    return messages.TransferIntent(**fields)
