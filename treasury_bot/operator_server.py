"""The operator wire's server (issue 13 item 3): signed actions from an operator's own machine.

A CURVE ROUTER of its own on TREASURY_OPERATOR_BIND, in ZAP domain `operators`, whose
allow-list is TREASURY_OPERATOR_CERTS_DIR (never the clients' folder): a client
certificate gets no connection here, and an operator certificate gets none on the intent
ROUTER (the two folders may not share a key: `load_operator_certs`). The CURVE identity is
an extra check: the certificate's name must be the signed action's operator; the
signature is verified exactly as for `treasuryctl` on the host (operator_actions.act).

One request at a time, on its own thread and ledger connection, as a supervised step
(treasury_bot/supervised.py): a failing step is logged, alerted once and retried.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import zmq

from common.clock import Clock
from common.config import ConfigError
from common.curve import KeyPair, configure_server, load_public_key
from common.logs import get_logger
from treasury_bot import freeze, operator_actions, operator_wire, quorum
from treasury_bot.ledger import Ledger
from treasury_bot.operator import OperatorError
from treasury_bot.policy_model import Policy

log = get_logger("treasury.operator_server")

ZAP_DOMAIN = "operators"
POLL_MS = 100


def load_operator_certs(folder: Path, clients: dict[bytes, str]) -> dict[bytes, str]:
    """Map each operator certificate's public key (z85) to its name (the file's stem)."""
    if not folder.is_dir():
        raise ConfigError(f"TREASURY_OPERATOR_CERTS_DIR: {folder} is not a folder")
    names: dict[bytes, str] = {}
    for path in sorted(folder.glob("*.key")):
        public = load_public_key(path, "TREASURY_OPERATOR_CERTS_DIR")
        if public in clients:
            raise ConfigError(f"TREASURY_OPERATOR_CERTS_DIR: {path.name} is also the client certificate "
                              f"{clients[public]}.key: operator and client certificates must differ")
        names[public] = path.stem
    return names


class OperatorServer:
    def __init__(self, *, context: zmq.Context, keys: KeyPair, operators: dict[bytes, str], endpoint: str,
                 ledger: Ledger, policy: Policy, policy_file: Path, clock: Clock, live=None) -> None:
        self.operators = operators
        self.ledger = ledger
        self._policy = policy
        self._live = live  # issue 16: the running treasury's LivePolicy; a reload's file is used
        self.keys_dir = operator_actions.operators_dir(policy_file)
        self.clock = clock
        self.sock = context.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, operator_wire.MAX_FRAME_BYTES + 64)
        self.sock.zap_domain = ZAP_DOMAIN.encode()
        configure_server(self.sock, keys)
        self.sock.bind(endpoint)
        self.poller = zmq.Poller()
        self.poller.register(self.sock, zmq.POLLIN)

    @property
    def policy(self) -> Policy:
        return self._live.file if self._live is not None else self._policy

    def step(self) -> float:
        """Answer whatever request is waiting (at most one poll's wait)."""
        if not self.poller.poll(POLL_MS):
            return 0.0
        frames = self.sock.recv_multipart(copy=False)
        user_id = frames[0].get("User-Id") if frames else None
        name = self.operators.get(user_id.encode()) if user_id else None
        if name is None or len(frames) != 3 or frames[1].bytes != b"":
            log.warning("operator_request_dropped", frames=len(frames), known=name is not None)
            return 0.0
        reply = self.answer(name, frames[2].bytes)
        self.sock.send_multipart([frames[0].bytes, b"", operator_wire.encode(reply)])
        return 0.0

    def answer(self, certificate: str, payload: bytes) -> operator_wire.OperatorReply:
        try:
            request = operator_wire.decode_request(payload)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return operator_wire.OperatorReply(ok=False, code="malformed", message=str(exc)[:300])
        if isinstance(request, operator_wire.FreezeQuery):
            standing = freeze.current(self.ledger)
            return operator_wire.OperatorReply(
                ok=True, status="frozen" if standing else "running",
                message=standing.describe() if standing else "not frozen",
                freeze_seq=standing.seq if standing else None)
        if isinstance(request, operator_wire.LooseningQuery):
            return self._loosening(request.setting)
        signed = request.action
        if signed.operator != certificate:
            log.warning("operator_certificate_mismatch", certificate=certificate, operator=signed.operator)
            return operator_wire.OperatorReply(ok=False, code="certificate_mismatch", message=(
                f"signed by {signed.operator!r} but sent with the certificate of {certificate!r}"))
        try:
            result = operator_actions.act(self.ledger, self.policy, signed,
                                          operator_actions.load_operator_keys(self.keys_dir),
                                          lambda _ledger: self.clock.now_ms(), operator_actions.REMOTE)
        except (quorum.QuorumError, OperatorError, freeze.FreezeError, ConfigError) as exc:
            code = getattr(exc, "code", "operator_keys")
            log.warning("operator_action_refused", operator=signed.operator, action=signed.action,
                        subject=signed.subject, code=code)
            return operator_wire.OperatorReply(ok=False, code=code, message=str(exc))
        except Exception:
            log.error("operator_action_failed", operator=signed.operator, exc_info=True)
            return operator_wire.OperatorReply(ok=False, code="internal",
                                               message="the treasury could not record the action; sign again")
        log.info("operator_action", operator=signed.operator, action=signed.action, subject=signed.subject,
                 status=result.status)
        return operator_wire.OperatorReply(ok=True, status=result.status, message=result.message)

    def _loosening(self, setting: str) -> operator_wire.OperatorReply:
        from treasury_bot.loosening import describe
        from treasury_bot.policy_in_force import resolve_from_ledger
        for pending in resolve_from_ledger(self.ledger, self.policy, self.clock.now_ms()).pending:
            if pending.setting == setting:
                return operator_wire.OperatorReply(ok=True, status="pending", message=describe(pending),
                                                   first_seen_at=pending.first_seen_at)
        return operator_wire.OperatorReply(ok=False, code="no_such_loosening",
                                           message=f"{setting!r} is not a pending loosening now")

    def close(self) -> None:
        self.sock.close(linger=0)
