"""A batch of requests off the ROUTER, decoded once and sorted by what answers them (pure).

In the manner of msgspec's asyncio-kv example: each payload is decoded once into its
request type, and a `match` sends it to its handler's list; the socket loop only moves
frames. What cannot be a request is answered here (`error`/`malformed`, `unknown_type`,
...), a ping at once; intents go to admission and the decider, status look-ups to the
ledger. Every reply keeps its request's slot, so replies leave in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from common import __version__, messages
from treasury_bot.batch_plan import Incoming


@dataclass(frozen=True)
class Envelope:
    """A request as it came off the ROUTER: who, the route back, and the payload."""

    route: bytes
    client: str
    frames: Sequence[bytes]


@dataclass(frozen=True)
class Lookup:
    """An intent_status request: answered from the ledger, for its owner only."""

    client: str
    intent_id: str


@dataclass
class Routed:
    """`replies[slot]` is (route, reply); a reply still None is filled by the intent's
    decision or the look-up of that slot before anything is sent."""

    replies: list[tuple[bytes, messages.Struct | None]] = field(default_factory=list)
    intents: list[tuple[int, Incoming]] = field(default_factory=list)
    lookups: list[tuple[int, Lookup]] = field(default_factory=list)

    def answer(self, slot: int, reply: messages.Struct) -> None:
        self.replies[slot] = (self.replies[slot][0], reply)


def route(envelopes: Iterable[Envelope]) -> Routed:
    routed = Routed()
    for envelope in envelopes:
        slot = len(routed.replies)
        routed.replies.append((envelope.route, None))
        if len(envelope.frames) != 1:
            routed.answer(slot, messages.Error(
                code="malformed", detail=f"a request is one frame, got {len(envelope.frames)}"))
            continue
        payload = envelope.frames[0]
        try:
            request = messages.decode_request(payload)
        except messages.WireError as exc:
            routed.answer(slot, exc.to_reply())
            continue
        match request:
            case messages.TransferIntent():
                routed.intents.append((slot, Incoming(envelope.client, request, payload)))
            case messages.IntentStatus():
                routed.lookups.append((slot, Lookup(envelope.client, request.intent_id)))
            case messages.Ping():
                routed.answer(slot, messages.Pong(version=__version__))
    return routed
