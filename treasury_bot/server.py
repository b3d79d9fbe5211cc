"""The intent server: a CURVE ROUTER for requests and a CURVE PUB for events.

The socket loop is thin: it drains whatever requests are waiting and `handle_batch`
answers them: identity from the CURVE key, `routing.route` decodes and sorts them (pure),
admission (`admission.refusal`, pure) keeps back what the disk or a budget refuses,
`decide_batch` plans and journals all the intents in one ledger transaction; then the
replies are sent after the commit, and the events published. Deciding never touches the
exchange's network: coin rules come from a cache that another thread refreshes.

Envelope rules (docs/design.md section 2):
- [peer, b"", payload]: a REQ client, or a DEALER that sent the empty delimiter.
- [peer, b"", p1, p2, ...]: more than one payload frame: `error`/`malformed`.
- [peer, payload] (no delimiter): dropped without a reply.
- A frame over 64 KiB never arrives: MAXMSGSIZE makes libzmq drop the peer.
- A peer whose key the ZAP handler did not admit never gets a connection at all.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

import zmq
from zmq.auth.thread import ThreadAuthenticator

from common import messages
from common.clock import Clock
from common.curve import KeyPair, configure_server
from common.heartbeat import Heartbeat
from common.logs import get_logger
from treasury_bot import admission, lifecycle
from treasury_bot.alerts import raised
from treasury_bot.decider import DecisionContext, Incoming, decide_batch
from treasury_bot.disk_guard import DiskGuard
from treasury_bot.ledger import Ledger
from treasury_bot.request_budget import RequestBudget
from treasury_bot.routing import Envelope, Lookup, Routed, route
from treasury_bot.usage import CountedTransfer
from treasury_bot.usage_tracker import UsageTracker

log = get_logger("treasury.server")

# A batch is one transaction, and every request in it waits for all of it. ZeroMQ's
# ROUTER fair-queues between connections, so a polite client's request is among the
# first few read, but it still waits for the batch in progress and for its own: its
# latency under a pipelining flood is about 1.5 batch times. 16 keeps that to a few ms
# (bench/flood.py: flood p50 13.6 -> 5.3 ms, p99 48 -> 22 ms) and loses no group
# commit for REQ clients, which have one request each in flight (bench/decision_latency.py).
MAX_BATCH = 16
POLL_MS = 100
# A CURVE MESSAGE command around each frame: "\x07MESSAGE", 8-byte nonce, 16-byte MAC, flags.
CURVE_FRAME_OVERHEAD = 1 + 7 + 8 + 16 + 1
# An operator's approval: the intent counts again from that moment (docs/design.md section 9).
APPROVAL = (lifecycle.PENDING_APPROVAL, lifecycle.QUEUED)


class Authenticator:
    """The ZAP handler for the CURVE allow-list, on the sockets' own context."""

    def __init__(self, context: zmq.Context, clients_dir: str, operators_dir: str | None = None) -> None:
        self._auth = ThreadAuthenticator(context)
        self._clients_dir = clients_dir
        self._operators_dir = operators_dir   # issue 13: the operator wire's own allow-list

    def start(self) -> "Authenticator":
        """Start the ZAP thread (its socket) and load the allow-list folder."""
        self._auth.start()
        # Never CURVE_ALLOW_ANY: only the certificates in the folder get a connection.
        self._auth.configure_curve(domain="*", location=self._clients_dir)
        if self._operators_dir is not None:
            # The operator ROUTER's ZAP domain (treasury_bot/operator_server.py): its own folder.
            self._auth.configure_curve(domain="operators", location=self._operators_dir)
        return self

    def reconfigure(self) -> None:
        """Issue 16 (a reload): read the allow-list folder again; new keys may connect from now on."""
        self._auth.configure_curve(domain="*", location=self._clients_dir)

    def stop(self) -> None:
        self._auth.stop()


class IntentServer:
    """Binds the two sockets (at `open`; building one touches nothing) and answers requests until `stop` is set."""

    def __init__(self, *, context: zmq.Context, keys: KeyPair, clients: dict[bytes, str],
                 intent_endpoint: str, event_endpoint: str, ledger: Ledger,
                 context_for_decisions: Callable[[], DecisionContext], clock: Clock,
                 next_keys: KeyPair | None = None, next_endpoints: tuple[str, str] | None = None) -> None:
        self.clients = clients
        self.ledger = ledger
        self.clock = clock
        self.decision_context = context_for_decisions
        self._zmq, self._keys = context, keys
        self._endpoints = (intent_endpoint, event_endpoint)
        # Issue 16 item 3: the CURVE rotation's overlap, a second ROUTER and PUB with the new
        # key pair, read and answered by this same loop (one ledger, one decider, one
        # usage tracker): an intent resent on the other endpoint gets its first decision.
        self._next = (next_keys, next_endpoints) if next_keys is not None and next_endpoints is not None else None
        self.routers: list[zmq.Socket] = []
        self.pubs: list[zmq.Socket] = []
        self.batches = 0
        self.requests = 0
        self._decided: list[tuple[str, messages.Decision]] = []
        self._last_now_ms = 0
        self._next_publish_check = 0.0
        # Issue 14 (treasury_bot/metrics.py): the loop's heartbeat for /healthz, and a
        # callable told of each batch's decisions and latency after the replies are out.
        self.heartbeat: Heartbeat = Heartbeat()
        self.on_decided: Callable[[list, float], None] | None = None
        # Issue 16: run on this thread between two batches (a reload: treasury_bot/reload.py).
        self.between_batches: Callable[[], None] | None = None

    def open(self) -> "IntentServer":
        """Bind the ROUTER and the PUB, read where the ledger's transitions and usage stand."""
        keys, ledger = self._keys, self.ledger
        intent_endpoint, event_endpoint = self._endpoints
        self.router, self.pub = self._bind_pair(keys, intent_endpoint, event_endpoint)
        if self._next is not None:
            next_keys, (next_intent, next_event) = self._next
            self._bind_pair(next_keys, next_intent, next_event)
            log.info("intent_endpoint_next", intent_endpoint=next_intent, event_endpoint=next_event)
        self._last_published = ledger.last_transition_seq()
        self.policy_changed()
        return self

    def policy_changed(self) -> None:
        """Build what the server keeps from the policy in force: the usage tracker (its window),
        the clients' request budgets and the disk guard. At open, and after a reload swapped
        the policy (issue 16: a tightened window_hours, budget or disk floor is in force from the
        next batch, like every other tightening; on this thread, between two batches)."""
        limits = self.decision_context().policy.limits
        self.tracker = UsageTracker(limits.window_hours)
        self.tracker.reload(self.ledger, self.clock.now_ms(), self.clock.monotonic())
        self.budget = RequestBudget({name: c.max_requests_per_minute for name, c in limits.clients.items()})
        self.disk = DiskGuard(self.ledger.path, limits.min_free_disk_mb)

    def _bind_pair(self, keys: KeyPair, intent_endpoint: str, event_endpoint: str) -> tuple[zmq.Socket, zmq.Socket]:
        router = self._zmq.socket(zmq.ROUTER)
        pub = self._zmq.socket(zmq.PUB)
        self.routers.append(router)
        self.pubs.append(pub)
        for sock in (router, pub):
            sock.setsockopt(zmq.LINGER, 0)
            # Both before bind: set afterwards they have no effect. libzmq measures the
            # CURVE-encrypted frame, so the box's overhead is added: 64 KiB of payload is read.
            sock.setsockopt(zmq.MAXMSGSIZE, messages.MAX_FRAME_BYTES + CURVE_FRAME_OVERHEAD)
            configure_server(sock, keys)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        router.bind(intent_endpoint)
        pub.bind(event_endpoint)
        return router, pub

    # -- the loop -------------------------------------------------------------------

    def serve(self, stop: threading.Event) -> None:
        poller = zmq.Poller()
        for router in self.routers:
            poller.register(router, zmq.POLLIN)
        while not stop.is_set():
            self.heartbeat.beat()
            ready = dict(poller.poll(POLL_MS))
            for router in self.routers:  # one batch per endpoint: each is answered on its own socket
                if router in ready:
                    batch = self._drain(router)
                    if batch:
                        self.handle_batch(batch, router)
            self._publish_other_transitions()
            if self.between_batches is not None:
                self.between_batches()

    def _drain(self, router: zmq.Socket | None = None) -> list[list[zmq.Frame]]:
        """Every request waiting now, up to MAX_BATCH (checked with EVENTS, not by the
        exception an empty NOBLOCK receive raises: that costs more than the check)."""
        router = router if router is not None else self.router
        batch: list[list[zmq.Frame]] = []
        try:
            while len(batch) < MAX_BATCH and (not batch or router.getsockopt(zmq.EVENTS) & zmq.POLLIN):
                batch.append(router.recv_multipart(zmq.NOBLOCK, copy=False))
        except zmq.Again:
            pass  # a poll that woke for nothing: the batch is what we have
        return batch

    def close(self) -> None:
        log.info("server_stats", batches=self.batches, requests=self.requests,
                 mean_batch=round(self.requests / self.batches, 2) if self.batches else 0)
        for sock in (*self.routers, *self.pubs):
            sock.close(linger=0)

    # -- one batch --------------------------------------------------------------------

    def handle_batch(self, raw_messages: list[list[zmq.Frame]], router: zmq.Socket | None = None) -> None:
        """`router`: the socket the batch came from, where its replies go (default: the main one)."""
        router = router if router is not None else self.router
        received = time.perf_counter()
        self.batches += 1
        self.requests += len(raw_messages)
        routed = route(e for e in map(self._envelope, raw_messages) if e is not None)
        events = self._decide(routed)
        for slot, lookup in routed.lookups:
            routed.answer(slot, self._intent_state(lookup))
        for route_back, reply in routed.replies:
            router.send_multipart([route_back, b"", messages.encode(reply)])
        for event in events:
            self.publish(event)
        if self.on_decided is not None and self._decided:
            self.on_decided(self._decided, time.perf_counter() - received)
        # Logged after the replies are out: the ledger is the record, the log a view of it.
        for client, reply in self._decided:
            log.info("intent_decided", intent_id=reply.intent_id, client=client,
                     outcome=reply.outcome, reason_code=reply.reason_code, status=reply.status)
        self._decided = []

    def _envelope(self, frames: list[zmq.Frame]) -> Envelope | None:
        user_id = frames[0].get("User-Id") if frames else None
        client = self.clients.get(user_id.encode()) if user_id else None
        if client is None:
            # ZAP admitted a key our map does not know (the folder changed): answer nothing.
            log.warning("request_from_unknown_key")
            return None
        if len(frames) < 3 or frames[1].bytes != b"":
            log.warning("request_dropped_no_delimiter", client=client, frames=len(frames))
            return None
        return Envelope(frames[0].bytes, client, [f.bytes for f in frames[2:]])

    def _decide(self, routed: Routed) -> Sequence[messages.WithdrawalEvent]:
        intents = self._admit_intents(routed)
        if not intents:
            return ()
        # Other writers first: an approval (treasuryctl) adds to the usage, and a batch
        # decided before the tracker learns of it could spend the same capacity twice.
        self._publish_other_transitions(force=True)
        context = self.decision_context()
        self._follow_the_clock(context.now_ms)
        try:
            plan = decide_batch(self.ledger, [incoming for _, incoming in intents], context,
                                self.tracker.usage(context.now_ms), usage_as_of_seq=self._last_published)
        except Exception:
            log.critical("decision_batch_failed", exc_info=True, intents=len(intents))
            for slot, _ in intents:
                routed.answer(slot, messages.Error(
                    code="internal", detail="the treasury could not record a decision; retry the same intent"))
            return ()
        for transfer in plan.counted:  # committed: now they count
            self.tracker.add(transfer)
        for (slot, _), reply in zip(intents, plan.replies):
            routed.answer(slot, reply)
        self._decided = [(incoming.client, reply) for (_, incoming), reply in zip(intents, plan.replies)]
        return plan.events

    def _follow_the_clock(self, now_ms: int) -> None:
        """Recount the usage from the ledger when the clock went back or a resync is due."""
        if now_ms < self._last_now_ms:
            # The clock went back (the treasury's exchange-anchored clock never does; an
            # injected one may). Deciding at the latest time seen instead, as before, refused
            # every fresh intent as stale for as long as the step had lasted (issue 10
            # defect 4); recounting from the ledger at this time keeps anything the tracker
            # expired from coming back uncounted.
            self.tracker.reload(self.ledger, now_ms, self.clock.monotonic())
        self._last_now_ms = now_ms
        if self.clock.monotonic() >= self.tracker.next_resync:
            self.tracker.reload(self.ledger, now_ms, self.clock.monotonic())

    def _admit_intents(self, routed: Routed) -> list[tuple[int, Incoming]]:
        """The intents that may reach the decider; the others are answered by
        `admission.refusal` (replay, then disk, then budget: see its module)."""
        if not routed.intents:
            return []
        now = self.clock.monotonic()
        disk = self.disk.check(now)
        if disk.episode_started:
            log.critical("ledger_disk_low", free_mb=disk.free_mb, min_free_disk_mb=self.disk.min_free_mb)
            self._alert(raised.ledger_disk_low, self.disk.path, disk.free_mb, self.disk.min_free_mb)
        existing = None  # read only when a refusal is possible: the common batch pays nothing
        admitted = []
        for slot, incoming in routed.intents:
            if not disk.low and self.budget.admit(incoming.client, now):
                admitted.append((slot, incoming))
                continue
            if existing is None:
                existing = self.ledger.find_intents(i.intent.intent_id for _, i in routed.intents)
            reply = admission.refusal(incoming, existing.get(incoming.intent.intent_id), disk,
                                      self.budget.limit_for(incoming.client))
            if reply is None:
                admitted.append((slot, incoming))    # a replay: the decider answers it as it stands
            else:
                routed.answer(slot, reply)
        for digest in self.budget.due_digests(now):
            log.warning("client_rate_limited", client=digest.client, refused=digest.refused,
                        max_requests_per_minute=digest.max_requests_per_minute)
            self._alert(raised.client_rate_limited, digest.client, digest.refused,
                        digest.max_requests_per_minute)
        return admitted

    def _alert(self, raise_alert, *facts) -> None:
        """One alert in its own transaction; a failure (a disk full after all) is logged, not fatal."""
        try:
            with self.ledger.transaction():
                self.ledger.enqueue(raise_alert(*facts, self.clock.now_ms()))
        except Exception:
            log.error("alert_not_recorded", exc_info=True)

    def _intent_state(self, lookup: Lookup) -> messages.Struct:
        intent_id = lookup.intent_id
        record = self.ledger.get_intent(intent_id)
        if record is None or record.client != lookup.client:
            # Another client's intent is as unknown as one that does not exist.
            return messages.Error(code="unknown_intent", detail=f"no intent {intent_id!r} of yours")
        return messages.IntentState(
            intent_id=record.intent_id, outcome=record.outcome, status=record.status,  # type: ignore[arg-type]
            withdrawal_id=record.withdrawal_id, tx_id=record.tx_id, updated_at=record.updated_at)

    # -- events ------------------------------------------------------------------------

    def publish(self, event: messages.WithdrawalEvent) -> None:
        for pub in self.pubs:  # the main feed, and the new key's during a rotation
            pub.send_multipart([messages.EVENT_TOPIC, messages.encode(event)])

    def _publish_other_transitions(self, force: bool = False) -> None:
        """Publish status changes made by the executor, the poller and treasuryctl."""
        now = self.clock.monotonic()
        if now < self._next_publish_check and not force:
            return
        self._next_publish_check = now + POLL_MS / 1000
        newest = self.ledger.last_transition_seq()
        if newest <= self._last_published:
            return
        # The decider's own transitions were published straight after their commit.
        for transition in self.ledger.transitions_after(self._last_published, until=newest,
                                                        skip_source=lifecycle.DECIDER, limit=100000):
            self.tracker.follow(transition.intent_id, transition.to_status, transition.source)
            if (transition.from_status, transition.to_status) == APPROVAL:
                self._count_from_approval(transition.intent_id, transition.at)
            self.publish(messages.WithdrawalEvent(
                intent_id=transition.intent_id, status=transition.to_status,  # type: ignore[arg-type]
                withdrawal_id=transition.withdrawal_id, tx_id=transition.tx_id, at=transition.at))
        self._last_published = newest

    def _count_from_approval(self, intent_id: str, at: int) -> None:
        """An approved intent counts from the moment it was approved (docs/design.md section 9)."""
        record = self.ledger.get_intent(intent_id)
        if record is None or record.counted_at is None:
            return
        self.tracker.restamp(CountedTransfer(
            intent_id=record.intent_id, coin=record.coin, destination=record.destination,
            amount=record.amount_value, accepted_at_ms=at, in_window=True))
