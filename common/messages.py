"""The wire contract between the bots (docs/design.md section 2): requests, replies and events.

Rules, in the order the decoder applies them:
- A frame is one MessagePack map. Anything else is `error`/`malformed`.
- The map's `type` picks the message. Missing or not a string: `malformed`.
  A string naming no request: `unknown_type`.
- Every field is checked against the schema (types, patterns, lengths, unknown
  fields, amount grammar). Any failure: `malformed`, with a detail naming the field.
- Amounts travel as decimal strings only; a float, NaN, a sign or an exponent fails.
- A map that repeats a key is `malformed` (docs/design.md section 9, issue 10 defect 6):
  msgspec silently keeps the last value, so the decoder compares the map header's
  entry count with the keys the request type has.
A request that fails here is never journaled and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

import msgspec
from msgspec import Meta, Struct

from common.money import AMOUNT_PATTERN, AmountError, canonical, parse_amount

MAX_FRAME_BYTES = 64 * 1024

# Anchored with \Z, not $: Python's $ also matches before a final "\n", which would let
# "abc\n" through a pattern docs/design.md writes as ^...$.
IntentId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,36}\Z")]
Coin = Annotated[str, Meta(pattern=r"^[A-Z0-9]{1,20}\Z")]
Network = Annotated[str, Meta(pattern=r"^[A-Z0-9_]{1,32}\Z")]
Label = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")]
# 64 characters bound the string's size; the grammar itself is docs/design.md's (section 2).
AmountText = Annotated[str, Meta(pattern=AMOUNT_PATTERN, max_length=64)]
Reason = Annotated[str, Meta(max_length=200)]
Millis = Annotated[int, Meta(ge=0, le=2**53)]

Outcome = Literal["accepted", "rejected", "pending_approval"]
Status = Literal[
    "pending_approval", "queued", "submitting", "submitted", "email_sent",
    "awaiting_approval", "processing", "completed", "failed", "rejected",
    "cancelled", "needs_review", "denied",
    "shadowed",  # issue 13 item 7: decided and journaled in shadow mode; nothing was sent
]
ErrorCode = Literal["malformed", "unknown_type", "unknown_intent", "internal"]

STATUSES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
# The statuses after which an intent never changes: a client may stop asking. Part of the
# wire contract (the signal bot reads it); treasury_bot/lifecycle.py, which owns the
# lifecycle, asserts its TERMINAL set equals this one.
TERMINAL_STATUSES = frozenset({"completed", "failed", "rejected", "cancelled", "denied", "shadowed"})


class _Request(Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    pass


class TransferIntent(_Request, tag="transfer_intent"):
    intent_id: IntentId
    coin: Coin
    network: Network
    destination: Label
    amount: AmountText
    reason: Reason
    created_at: Millis

    def __post_init__(self) -> None:
        # Raised here, a ValueError becomes a msgspec ValidationError naming no field,
        # so the message names it.
        try:
            parse_amount(self.amount)
        except AmountError as exc:
            raise ValueError(f"{exc} - at `$.amount`") from None

    @property
    def amount_value(self) -> Decimal:
        return Decimal(self.amount)

    def content_key(self) -> tuple:
        """What makes two sendings of one intent_id the same intent ("20.000" == "20")."""
        return (self.coin, self.network, self.destination,
                canonical(Decimal(self.amount)), self.reason, self.created_at)


class IntentStatus(_Request, tag="intent_status"):
    intent_id: IntentId


class Ping(_Request, tag="ping"):
    pass


Request = Union[TransferIntent, IntentStatus, Ping]
REQUEST_TYPES = frozenset({"transfer_intent", "intent_status", "ping"})


class _Reply(Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    pass


class Decision(_Reply, tag="decision"):
    intent_id: str
    outcome: Outcome
    reason_code: str | None
    detail: str
    status: Status


class IntentState(_Reply, tag="intent_state"):
    intent_id: str
    outcome: Outcome
    status: Status
    withdrawal_id: str | None
    tx_id: str | None
    updated_at: int


class Pong(_Reply, tag="pong"):
    version: str


class Error(_Reply, tag="error"):
    code: ErrorCode
    detail: str


Reply = Union[Decision, IntentState, Pong, Error]


class WithdrawalEvent(Struct, frozen=True, forbid_unknown_fields=True, tag_field="type",
                      tag="withdrawal_event"):
    intent_id: str
    status: Status
    withdrawal_id: str | None
    tx_id: str | None
    at: int


EVENT_TOPIC = b"withdrawal"


class WireError(Exception):
    """A frame the schema refuses; `code` is the wire's error code, `detail` names the field."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def to_reply(self) -> Error:
        return Error(code=self.code, detail=self.detail)  # type: ignore[arg-type]


class _TypeProbe(Struct):
    """Reads only `type`, so that an unknown tag and a malformed map can be told apart."""

    type: str | None = None


# msgspec raises these, not DecodeError, for a string that is not UTF-8 and for nesting
# past Python's recursion limit: a client's bad frame all the same, never a crash.
_UNDECODABLE = (UnicodeDecodeError, RecursionError)

_encoder = msgspec.msgpack.Encoder()
_probe_decoder = msgspec.msgpack.Decoder(_TypeProbe)
_request_decoder = msgspec.msgpack.Decoder(Request)
_reply_decoder = msgspec.msgpack.Decoder(Reply)
_event_decoder = msgspec.msgpack.Decoder(WithdrawalEvent)


def encode(message: Struct) -> bytes:
    return _encoder.encode(message)


def decode_request(frame: bytes) -> TransferIntent | IntentStatus | Ping:
    """Decode one request frame or raise WireError (malformed / unknown_type)."""
    if len(frame) > MAX_FRAME_BYTES:
        raise WireError("malformed", f"frame of {len(frame)} bytes is over {MAX_FRAME_BYTES}")
    try:
        request = _request_decoder.decode(frame)  # the common case: one decode
    except (msgspec.DecodeError, *_UNDECODABLE) as exc:  # ValidationError is a DecodeError
        failure: Exception = exc
    else:
        if _map_entries(frame) != _KEY_COUNTS[type(request)]:
            raise WireError("malformed", "a key is repeated in the request map")
        return request
    # Only a refused frame pays for a second look, to tell the error codes apart.
    try:
        probe = _probe_decoder.decode(frame)
    except msgspec.ValidationError:
        raise WireError("malformed", "frame is not a map with a string `type` field") from None
    except _UNDECODABLE as exc:
        raise WireError("malformed", _describe(exc)) from None
    except msgspec.DecodeError:
        raise WireError("malformed", "frame is not valid MessagePack") from None
    if probe.type is None:
        raise WireError("malformed", "missing field `type`")
    if probe.type not in REQUEST_TYPES:
        raise WireError("unknown_type", f"unknown request type {probe.type[:40]!r}")
    raise WireError("malformed", _describe(failure))


def _key_count(kind: type[Struct]) -> int:
    """The distinct keys a valid request map has: every field plus `type`.

    Exact only because every request field is required: a decoded request has seen each
    of its keys at least once, so more entries than this means a repeated key."""
    fields = msgspec.structs.fields(kind)
    assert all(f.required for f in fields), f"{kind.__name__} has an optional field"
    return len(fields) + 1


_KEY_COUNTS: dict[type, int] = {kind: _key_count(kind) for kind in (TransferIntent, IntentStatus, Ping)}


def _map_entries(frame: bytes) -> int:
    """The entry count in the top-level MessagePack map header (fixmap, map16, map32)."""
    first = frame[0]
    if 0x80 <= first <= 0x8F:
        return first & 0x0F
    if first == 0xDE:
        return int.from_bytes(frame[1:3], "big")
    if first == 0xDF:
        return int.from_bytes(frame[1:5], "big")
    return -1  # not reachable for a frame that decoded as a request map


def decode_reply(frame: bytes) -> Decision | IntentState | Pong | Error:
    try:
        return _reply_decoder.decode(frame)
    except (msgspec.DecodeError, *_UNDECODABLE) as exc:
        raise WireError("malformed", _describe(exc)) from None


def decode_event(frame: bytes) -> WithdrawalEvent:
    try:
        return _event_decoder.decode(frame)
    except (msgspec.DecodeError, *_UNDECODABLE) as exc:
        raise WireError("malformed", _describe(exc)) from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "a string in the frame is not valid UTF-8"
    if isinstance(exc, RecursionError):
        return "frame nests too deeply"
    # msgspec's messages name the field as "- at `$.field`"; keep them, bounded.
    text = str(exc)
    return text if len(text) <= 300 else text[:297] + "..."
