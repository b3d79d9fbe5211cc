"""A small fake of OUR OWN treasury port for the signal bot's tests: a real CURVE ROUTER
(with a ZAP authenticator on the same context, so unlisted keys are refused) that answers
decisions from a dict, and a real CURVE PUB socket for events. Not the treasury: no policy,
no exchange. Idempotent like the real one: a repeated intent_id gets its first decision.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from zmq.auth.thread import ThreadAuthenticator

from common import messages
from common.curve import KeyPair, configure_server, generate, load_key_pair, load_public_key


@dataclass
class CurveFiles:
    """Key files for one test: the treasury's pair, the signal bot's pair, the allow-list folder."""

    treasury_public: Path          # the signal side's copy (no secret beside it)
    treasury_secret: Path
    signal_public: Path
    signal_secret: Path
    clients_dir: Path

    @classmethod
    def make(cls, folder: Path) -> "CurveFiles":
        t_pub, t_sec = generate(folder / "treasury", "treasury")
        # The signal bot refuses a TREASURY_CURVE_PUBLIC_FILE whose secret twin is beside it.
        (folder / "signal_side").mkdir(parents=True, exist_ok=True)
        t_pub = (folder / "signal_side" / "treasury.key")
        t_pub.write_bytes((folder / "treasury" / "treasury.key").read_bytes())
        s_pub, s_sec = generate(folder / "signal", "signal")
        clients = folder / "clients"
        clients.mkdir(parents=True, exist_ok=True)
        (clients / "signal.key").write_bytes(s_pub.read_bytes())
        return cls(t_pub, t_sec, s_pub, s_sec, clients)

    def signal_keys(self) -> KeyPair:
        return load_key_pair(self.signal_secret, "test")

    def server_public(self) -> bytes:
        return load_public_key(self.treasury_public, "test")


@dataclass
class FakeTreasury:
    files: CurveFiles
    intent_port: int
    event_port: int
    # intent_id -> (outcome, reason_code, status) for its first answer; default accepted/queued.
    planned: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)
    drop_replies: int = 0          # swallow this many requests without replying (lost replies)
    internal_errors: int = 0       # answer this many transfer intents error/internal (a full ledger disk)
    requests: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.decided: dict[str, messages.Decision] = {}
        self.content: dict[str, tuple] = {}
        self.statuses: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._to_publish: list[messages.WithdrawalEvent] = []

    @property
    def intent_endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.intent_port}"

    @property
    def event_endpoint(self) -> str:
        return f"tcp://127.0.0.1:{self.event_port}"

    def start(self) -> "FakeTreasury":
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-treasury")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake treasury did not start")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def publish(self, event: messages.WithdrawalEvent) -> None:
        with self._lock:
            self._to_publish.append(event)

    def set_status(self, intent_id: str, status: str) -> None:
        with self._lock:
            self.statuses[intent_id] = status

    def transfer_requests(self, intent_id: str | None = None) -> list[messages.TransferIntent]:
        with self._lock:
            return [r for r in self.requests if isinstance(r, messages.TransferIntent)
                    and (intent_id is None or r.intent_id == intent_id)]

    def _run(self) -> None:
        ctx = zmq.Context()
        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(self.files.clients_dir))
        keys = load_key_pair(self.files.treasury_secret, "test")
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.MAXMSGSIZE, messages.MAX_FRAME_BYTES)
        configure_server(router, keys)
        router.bind(self.intent_endpoint)
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        configure_server(pub, keys)
        pub.bind(self.event_endpoint)
        self._ready.set()
        try:
            while not self._stop.is_set():
                with self._lock:
                    pending, self._to_publish = self._to_publish, []
                for event in pending:
                    pub.send_multipart([messages.EVENT_TOPIC, messages.encode(event)])
                if not router.poll(50, zmq.POLLIN):
                    continue
                parts = router.recv_multipart()
                if len(parts) != 3 or parts[1] != b"":
                    continue
                reply = self._answer(parts[2])
                if reply is not None:
                    router.send_multipart([parts[0], b"", messages.encode(reply)])
        finally:
            router.close(0)
            pub.close(0)
            auth.stop()
            ctx.term()

    def _answer(self, frame: bytes):
        try:
            request = messages.decode_request(frame)
        except messages.WireError as exc:
            return exc.to_reply()
        with self._lock:
            self.requests.append(request)
            if self.drop_replies > 0:
                self.drop_replies -= 1
                return None
            if isinstance(request, messages.Ping):
                return messages.Pong(version="fake")
            if isinstance(request, messages.IntentStatus):
                first = self.decided.get(request.intent_id)
                if first is None:
                    return messages.Error(code="unknown_intent", detail="no such intent")
                return messages.IntentState(intent_id=request.intent_id, outcome=first.outcome,
                                            status=self.statuses[request.intent_id], withdrawal_id=None,
                                            tx_id=None, updated_at=0)
            if self.internal_errors > 0:
                self.internal_errors -= 1
                return messages.Error(code="internal", detail="the ledger's disk is low; retry later")
            first = self.decided.get(request.intent_id)
            if first is not None:
                if self.content[request.intent_id] != request.content_key():
                    return messages.Decision(intent_id=request.intent_id, outcome="rejected",
                                             reason_code="intent_id_conflict", detail="", status="denied")
                return messages.Decision(intent_id=first.intent_id, outcome=first.outcome,
                                         reason_code=first.reason_code, detail=first.detail,
                                         status=self.statuses[request.intent_id])
            outcome, reason_code, status = self.planned.get(request.intent_id, ("accepted", None, "queued"))
            decision = messages.Decision(intent_id=request.intent_id, outcome=outcome,  # type: ignore[arg-type]
                                         reason_code=reason_code, detail="", status=status)  # type: ignore[arg-type]
            self.decided[request.intent_id] = decision
            self.content[request.intent_id] = request.content_key()
            self.statuses[request.intent_id] = status
            return decision
