"""Sending fuzz cases to a live treasury and judging what comes back.

`WireLink` holds one CURVE DEALER per client (a DEALER, not a REQ, so that a frame can be
sent without the delimiter, with several payload frames, or dropped without a reply
leaving the socket stuck). `Judge` keeps the model's memory of what was sent (intent ids,
their owners, content and first decision) and checks each reply and each ledger delta:

- malformed / unknown_type: `error` with that code and a detail; nothing written;
- dropped: no reply; nothing written;
- a well-formed intent: a `decision` whose outcome, reason_code and status agree
  (and, with `exact`, equal the reference policy's), journaled exactly once: a new id
  adds an intent, a decision and a transition (and an alert unless accepted); a replay
  adds nothing and repeats the first decision; a conflict is journaled apart;
- intent_status: the owner's intent state, or `unknown_intent`; ping: pong.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import zmq
from zmq.utils.monitor import recv_monitor_message

from common import __version__, messages
from common.curve import KeyPair, configure_client
from tests.fuzz import wire_model as model
from tests.fuzz.frames import Case

LEDGER_TABLES = ("intents", "decisions", "transitions", "refused_requests", "alert_outbox")
REASON_CODES = frozenset({
    "intent_id_conflict", "stale_intent", "unknown_destination", "client_not_allowed",
    "coin_network_mismatch", "destination_quarantined", "withdrawals_disabled",
    "invalid_destination", "below_exchange_minimum", "above_exchange_maximum", "not_a_multiple",
    "over_transfer_limit", "too_many_transfers", "over_window_limit", "approval_required",
    "operator_rejected"})
STATUS_OF_OUTCOME = {"accepted": "queued", "rejected": "denied", "pending_approval": "pending_approval"}


class LedgerCounter:
    """Rows per journal table, read from the ledger file on its own read-only connection.

    `exact` counts rows (COUNT(*)); otherwise the highest `seq` (the tables are append-only
    with INTEGER PRIMARY KEY seq, so its growth is the rows appended) - O(log n), for the
    bench's 100,000 frames. `data_version` changes whenever another connection commits."""

    def __init__(self, path: Path, *, exact: bool = True) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10,
                                    isolation_level=None, check_same_thread=False)
        column = "COUNT(*)" if exact else "COALESCE(MAX(seq), 0)"
        self.sql = "SELECT " + ", ".join(f"(SELECT {column} FROM {t})" for t in LEDGER_TABLES)

    def counts(self) -> dict[str, int]:
        return dict(zip(LEDGER_TABLES, self.conn.execute(self.sql).fetchone()))

    def data_version(self) -> int:
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


class WireLink:
    """One CURVE DEALER per client to the treasury's ROUTER."""

    def __init__(self, endpoint: str, keys: dict[str, KeyPair], server_public: bytes,
                 context: zmq.Context | None = None) -> None:
        self.endpoint = endpoint
        self.keys = keys
        self.server_public = server_public
        self.context = context or zmq.Context.instance()
        self.sockets: dict[str, zmq.Socket] = {}

    def socket(self, client: str) -> zmq.Socket:
        if client not in self.sockets:
            sock = self.context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 5000)
            configure_client(sock, self.keys[client], self.server_public)
            sock.connect(self.endpoint)
            self.sockets[client] = sock
        return self.sockets[client]

    def reopen(self, client: str) -> None:
        """A fresh connection (after libzmq dropped the peer for an oversize frame)."""
        sock = self.sockets.pop(client, None)
        if sock is not None:
            sock.close(linger=0)

    def send(self, case: Case) -> None:
        parts = ([b""] if case.delimiter else []) + list(case.frames)
        self.socket(case.client).send_multipart(parts)

    def receive(self, client: str, timeout: float) -> bytes | None:
        """The reply's payload, or None after `timeout` seconds of silence."""
        sock = self.socket(client)
        if not sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        parts = sock.recv_multipart()
        if len(parts) != 2 or parts[0] != b"":
            raise AssertionError(f"reply is not [delimiter, payload]: {len(parts)} frames")
        return parts[1]

    def send_then_ping(self, case: Case, timeout: float) -> bytes | None:
        """Send a case, then a ping on the same connection: the ROUTER reads them in order,
        so the first reply is the pong exactly when the case got none (no waiting)."""
        self.send(case)
        self.socket(case.client).send_multipart([b"", messages.encode(messages.Ping())])
        first = self.receive(case.client, timeout)
        if first is not None and messages.decode_reply(first) == messages.Pong(version=__version__):
            return None
        self.receive(case.client, timeout)  # the pong that follows the unexpected reply
        return first if first is not None else b"<no pong either>"

    def send_until_disconnected(self, case: Case, timeout: float) -> tuple[bytes | None, bool]:
        """Send a case on a fresh, monitored connection: (any reply, whether the treasury
        dropped the connection). An oversize frame must end in a disconnect, not a reply."""
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        configure_client(sock, self.keys[case.client], self.server_public)
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        try:
            sock.connect(self.endpoint)
            if not _wait_event(monitor, zmq.EVENT_HANDSHAKE_SUCCEEDED, timeout):
                raise AssertionError("no CURVE handshake with the treasury")
            sock.send_multipart(([b""] if case.delimiter else []) + list(case.frames))
            disconnected = _wait_event(monitor, zmq.EVENT_DISCONNECTED, timeout)
            reply = sock.recv_multipart()[-1] if sock.poll(0, zmq.POLLIN) else None
            return reply, disconnected
        finally:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)

    def request(self, client: str, message: messages.Struct, timeout: float = 5.0):
        self.socket(client).send_multipart([b"", messages.encode(message)])
        payload = self.receive(client, timeout)
        return None if payload is None else messages.decode_reply(payload)

    def close(self) -> None:
        for client in list(self.sockets):
            self.reopen(client)


@dataclass
class SentIntent:
    client: str
    content: tuple
    outcome: str
    reason_code: str | None
    detail: str
    status: str


@dataclass
class Tally:
    """Counts for the report: by category, by reply, and every broken property."""

    sent: Counter = field(default_factory=Counter)
    replies: Counter = field(default_factory=Counter)
    intents: Counter = field(default_factory=Counter)   # new / replay / conflict
    problems: list[str] = field(default_factory=list)
    bad_ledger_writes: int = 0
    latencies_ms: list[float] = field(default_factory=list)


class Judge:
    """Sends cases, follows each bad one with a well-formed request, and checks everything."""

    def __init__(self, link: WireLink, ledger: LedgerCounter, now_ms: Callable[[], int], *,
                 exact: bool, quiet_wait: float = 0.25, reply_wait: float = 5.0,
                 fast_drops: bool = False) -> None:
        self.link = link
        self.ledger = ledger
        self.now_ms = now_ms
        self.exact = exact                  # reference decisions (fake clock, fuzz policy)
        self.quiet_wait = quiet_wait        # how long "no reply" is waited for
        self.reply_wait = reply_wait
        self.fast_drops = fast_drops        # prove "no reply" by order or by the disconnect
        self.intents: dict[str, SentIntent] = {}
        self.tally = Tally()

    # -- one case --------------------------------------------------------------------------

    def run(self, case: Case, *, follow_up: bool = True) -> list[str]:
        """Send one case and check it; returns (and records) the broken properties."""
        expect, obj = case.expectation()
        self.tally.sent[case.category] += 1
        before = self.ledger.counts()
        version = self.ledger.data_version() if self.exact else None
        started = time.perf_counter()
        problems: list[str] = []
        if expect == model.DROPPED and self.fast_drops:
            payload = self._send_dropped(case, problems)
        else:
            self.link.send(case)
            payload = self.link.receive(case.client, self.quiet_wait if expect == model.DROPPED else self.reply_wait)
        elapsed_ms = (time.perf_counter() - started) * 1000
        problems += self._check(case, expect, obj, payload, before)
        if payload is not None and expect != model.DROPPED:
            self.tally.latencies_ms.append(elapsed_ms)
        if expect in (model.MALFORMED, model.UNKNOWN_TYPE, model.DROPPED) or (
                payload is not None and _is_error(payload)):
            delta = _delta(before, self.ledger.counts())
            if any(delta.values()) or (version is not None and self.ledger.data_version() != version):
                self.tally.bad_ledger_writes += 1
                problems.append(f"ledger written for a refused frame: {delta}")
        if expect == model.DROPPED and not self.fast_drops:
            self.link.reopen(case.client)
        if follow_up and expect != model.VALID:
            problems += self.follow_up(case.client)
        if problems:
            problems = [f"[{case.category}] {p} | case={_show(case)}" for p in problems]
            self.tally.problems += problems
        return problems

    def _send_dropped(self, case: Case, problems: list[str]) -> bytes | None:
        if any(len(frame) > model.MAX_FRAME_BYTES for frame in case.frames):
            payload, disconnected = self.link.send_until_disconnected(case, self.reply_wait)
            if not disconnected:
                problems.append("an oversize frame did not end the connection")
            return payload
        return self.link.send_then_ping(case, self.reply_wait)

    def follow_up(self, client: str) -> list[str]:
        """A well-formed request right after a bad one must be answered correctly."""
        reply = self.link.request(client, messages.Ping(), self.reply_wait)
        if reply != messages.Pong(version=__version__):
            return [f"ping after a bad frame got {reply!r}"]
        return []

    # -- the checks --------------------------------------------------------------------------

    def _check(self, case: Case, expect: str, obj: Any, payload: bytes | None,
               before: dict[str, int]) -> list[str]:
        if expect == model.DROPPED:
            self.tally.replies["dropped" if payload is None else "replied"] += 1
            return [] if payload is None else [f"a dropped frame was answered: {payload[:200]!r}"]
        if payload is None:
            self.tally.replies["no_reply"] += 1
            return [f"no reply within {self.reply_wait} s (expected {expect})"]
        try:
            reply = messages.decode_reply(payload)
        except messages.WireError as exc:
            self.tally.replies["bad_reply"] += 1
            return [f"reply breaks the wire schema: {exc.detail}"]
        if isinstance(reply, messages.Error):
            key = f"error:{reply.code}"
        elif isinstance(reply, messages.Decision):
            key = f"decision:{reply.reason_code or reply.outcome}"
        else:
            key = type(reply).__name__
        self.tally.replies[key] += 1
        if expect != model.MALFORMED and obj is not None and model.nesting_depth(obj) > model.DEEP_NESTING \
                and isinstance(reply, messages.Error) and reply.code == model.MALFORMED:
            return []  # past the decoder's recursion limit: refused before it was read
        if expect in (model.MALFORMED, model.UNKNOWN_TYPE):
            if not isinstance(reply, messages.Error) or reply.code != expect or not reply.detail:
                return [f"expected error {expect}, got {reply!r}"]
            return []
        kind = obj["type"]
        if kind == "ping":
            return [] if reply == messages.Pong(version=__version__) else [f"ping got {reply!r}"]
        if kind == "intent_status":
            return self._check_status(case.client, obj["intent_id"], reply, before)
        return self._check_decision(case.client, obj, reply, before)

    def _check_status(self, client: str, intent_id: str, reply: Any, before: dict[str, int]) -> list[str]:
        problems = _unchanged(before, self.ledger.counts(), "intent_status")
        known = self.intents.get(intent_id)
        if known is None or known.client != client:
            if not (isinstance(reply, messages.Error) and reply.code == "unknown_intent"):
                problems.append(f"status of an intent not ours got {reply!r}")
            return problems
        if not isinstance(reply, messages.IntentState) or reply.intent_id != intent_id \
                or reply.outcome != known.outcome:
            return problems + [f"status of our intent {known} got {reply!r}"]
        if reply.status != known.status:  # no executor moves them: nothing is ever queued for it
            problems.append(f"status moved: {known.status} -> {reply.status}")
        return problems

    def _check_decision(self, client: str, obj: dict[str, Any], reply: Any,
                        before: dict[str, int]) -> list[str]:
        intent_id = obj["intent_id"]
        if not isinstance(reply, messages.Decision) or reply.intent_id != intent_id:
            return [f"a well-formed intent got {reply!r}"]
        problems = []
        if reply.outcome == "accepted" and reply.reason_code is not None:
            problems.append(f"accepted with a reason_code {reply.reason_code}")
        if reply.outcome != "accepted" and reply.reason_code not in REASON_CODES:
            problems.append(f"{reply.outcome} with reason_code {reply.reason_code!r}")
        after = self.ledger.counts()
        delta = _delta(before, after)
        known = self.intents.get(intent_id)
        content = model.content_of(obj)
        self.tally.intents["new" if known is None else "replay" if (
            known.client == client and known.content == content) else "conflict"] += 1
        if known is None:
            if STATUS_OF_OUTCOME[reply.outcome] != reply.status:
                problems.append(f"outcome {reply.outcome} with status {reply.status}")
            if self.exact:
                want = model.reference_decision(obj, client, self.now_ms())
                got = model.Expected(reply.outcome, reply.reason_code, reply.status)
                if got != want:
                    problems.append(f"reference policy says {want}, treasury said {got}")
            # Window caps never near 80% in the fuzz policies: an alert for each rejection
            # (intent_rejected) and each pending one (approval_needed), none otherwise.
            wanted = {"intents": 1, "decisions": 1, "transitions": 1, "refused_requests": 0,
                      "alert_outbox": 0 if reply.outcome == "accepted" else 1}
            problems += _expect_delta(delta, wanted, "a new intent")
            self.intents[intent_id] = SentIntent(client, content, reply.outcome, reply.reason_code,
                                                 reply.detail, reply.status)
        elif known.client == client and known.content == content:
            if (reply.outcome, reply.reason_code, reply.detail) != (known.outcome, known.reason_code, known.detail):
                problems.append(f"a replay got {reply!r}, first decision was {known}")
            if reply.status != known.status:
                problems.append(f"a replay's status {reply.status} != {known.status}")
            problems += _unchanged(before, after, "a replay")
        else:
            if (reply.outcome, reply.reason_code, reply.status) != ("rejected", "intent_id_conflict", "denied"):
                problems.append(f"a reused id (other content or client) got {reply!r}")
            problems += _expect_delta(delta, {"intents": 0, "decisions": 0, "transitions": 0,
                                              "refused_requests": 1, "alert_outbox": 1}, "a conflict")
        return problems


def _wait_event(monitor: zmq.Socket, event: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not monitor.poll(int(left * 1000) + 1, zmq.POLLIN):
            return False
        if recv_monitor_message(monitor)["event"] == event:
            return True
    return False


def _is_error(payload: bytes) -> bool:
    try:
        return isinstance(messages.decode_reply(payload), messages.Error)
    except messages.WireError:
        return False


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {table: after[table] - before[table] for table in before}


def _unchanged(before: dict[str, int], after: dict[str, int], what: str) -> list[str]:
    delta = _delta(before, after)
    return [] if not any(delta.values()) else [f"{what} wrote to the ledger: {delta}"]


def _expect_delta(delta: dict[str, int], wanted: dict[str, int], what: str) -> list[str]:
    wrong = {table: (delta[table], want) for table, want in wanted.items() if delta[table] != want}
    return [] if not wrong else [f"{what}: ledger rows (got, wanted) {wrong}"]


def _show(case: Case) -> str:
    frames = [frame[:120] + (b"...%d bytes" % len(frame) if len(frame) > 120 else b"") for frame in case.frames]
    return f"client={case.client} delimiter={case.delimiter} frames={frames!r}"
