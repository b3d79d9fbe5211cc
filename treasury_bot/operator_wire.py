"""The operator wire's messages (issue 13 item 3): what `treasuryctl --remote` sends to the
treasury's operator ROUTER (TREASURY_OPERATOR_BIND) and what it answers. Pure.

The operator wire is apart from the clients' (docs/design.md section 2 is untouched): its own
socket, its own CURVE allow-list (TREASURY_OPERATOR_CERTS_DIR), and only these messages.
A request is one JSON frame after the empty delimiter, as on the client wire:

    {"type": "operator_action", "action": {SignedAction: action, subject, operator,
                                            signed_at, nonce, signature}}
    {"type": "freeze_state"}          -> the standing freeze's seq (what an unfreeze signs)
    {"type": "loosening_state", "setting": S} -> the pending loosening's first sighting

and every answer is {"type": "operator_reply", "ok", "code", "status", "message", "freeze_seq",
"first_seen_at"}.
"""

from __future__ import annotations

import msgspec

from treasury_bot.quorum import SignedAction

MAX_FRAME_BYTES = 8192


class ActionRequest(msgspec.Struct, frozen=True, tag="operator_action", tag_field="type", forbid_unknown_fields=True):
    action: SignedAction


class FreezeQuery(msgspec.Struct, frozen=True, tag="freeze_state", tag_field="type", forbid_unknown_fields=True):
    pass


class LooseningQuery(msgspec.Struct, frozen=True, tag="loosening_state", tag_field="type",
                     forbid_unknown_fields=True):
    setting: str


class OperatorReply(msgspec.Struct, frozen=True, tag="operator_reply", tag_field="type", kw_only=True):
    ok: bool
    message: str
    code: str | None = None
    status: str | None = None
    freeze_seq: int | None = None
    first_seen_at: int | None = None   # loosening_state: what a loosen_early vote names


Request = ActionRequest | FreezeQuery | LooseningQuery
_request = msgspec.json.Decoder(Request)
_reply = msgspec.json.Decoder(OperatorReply)


def encode(message: msgspec.Struct) -> bytes:
    return msgspec.json.encode(message)


def decode_request(data: bytes) -> Request:
    """A request, or msgspec.ValidationError / DecodeError."""
    if len(data) > MAX_FRAME_BYTES:
        raise msgspec.ValidationError(f"frame over {MAX_FRAME_BYTES} bytes")
    return _request.decode(data)


def decode_reply(data: bytes) -> OperatorReply:
    return _reply.decode(data)
