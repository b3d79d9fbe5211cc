"""The server's pure steps: routing a batch of envelopes by request type (decoded once),
and what an intent the disk or its budget keeps back is answered (no sockets, no SQLite)."""

from __future__ import annotations

import msgspec

from common import __version__, messages
from tests.support.treasury_core import T0, incoming
from treasury_bot import lifecycle
from treasury_bot.admission import CLIENT_RATE_LIMITED, refusal
from treasury_bot.disk_guard import DiskState
from treasury_bot.ledger import IntentRecord
from treasury_bot.routing import Envelope, Lookup, route

DISK_FINE = DiskState(low=False, free_mb=5000, episode_started=False)
DISK_LOW = DiskState(low=True, free_mb=3, episode_started=False)


def envelope(route_id: bytes, *frames: bytes, client: str = "signal") -> Envelope:
    return Envelope(route_id, client, list(frames))


def test_route_sorts_each_request_by_type_and_keeps_every_reply_in_its_slot():
    """Ping is answered at once, an intent goes to the decider and a status request to the
    look-ups, each holding its slot; the replies keep the order the requests came in."""
    intent = incoming("i-1")
    routed = route([
        envelope(b"r0", messages.encode(messages.Ping())),
        envelope(b"r1", intent.raw, client="other"),
        envelope(b"r2", messages.encode(messages.IntentStatus(intent_id="i-0"))),
    ])
    assert routed.replies == [(b"r0", messages.Pong(version=__version__)), (b"r1", None), (b"r2", None)]
    [(slot, got)] = routed.intents
    assert slot == 1 and (got.client, got.intent, got.raw) == ("other", intent.intent, intent.raw)
    assert routed.lookups == [(2, Lookup("signal", "i-0"))]


def test_route_answers_what_is_not_one_good_request_and_passes_nothing_on():
    """Two payload frames are malformed; an undecodable frame gets the wire's own error code."""
    routed = route([envelope(b"r0", b"a", b"b"), envelope(b"r1", b"\xc1 not msgpack"),
                    envelope(b"r2", msgspec.msgpack.encode({"type": "nope"}))])
    codes = [(r, reply.code) for r, reply in routed.replies]
    assert codes == [(b"r0", "malformed"), (b"r1", "malformed"), (b"r2", "unknown_type")]
    assert routed.intents == [] and routed.lookups == []


def decided(intent_id: str, amount: str = "100", client: str = "signal") -> IntentRecord:
    return IntentRecord(seq=1, intent_id=intent_id, client=client, coin="USDT", network="TRX",
                        destination="cold-wallet", amount=amount, reason="sweep", created_at=T0,
                        received_at=T0, outcome="accepted", reason_code=None, detail="ok",
                        status=lifecycle.SUBMITTED, updated_at=T0, address=None, tag=None, counted_at=T0)


def test_a_new_intent_over_its_budget_is_rejected_client_rate_limited():
    reply = refusal(incoming("n-1"), None, DISK_FINE, 60)
    assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", CLIENT_RATE_LIMITED, lifecycle.DENIED)
    assert "60 requests per minute" in reply.detail


def test_a_replay_over_its_budget_still_goes_to_the_decider():
    """Rule 1 first: a decided intent_id is answered as it stands, budget or not."""
    assert refusal(incoming("d-1"), decided("d-1"), DISK_FINE, 60) is None


def test_on_a_low_disk_a_replay_is_answered_from_its_record_and_a_new_intent_must_retry():
    """No write on a low disk: the replay's decision as it stands; a new intent, and a
    conflict (which would journal a refused row), get error/internal."""
    replay = refusal(incoming("d-1"), decided("d-1"), DISK_LOW, 60)
    assert (replay.outcome, replay.status) == ("accepted", lifecycle.SUBMITTED)
    for item, prior in ((incoming("n-1"), None), (incoming("d-1", "999"), decided("d-1"))):
        reply = refusal(item, prior, DISK_LOW, 60)
        assert isinstance(reply, messages.Error) and reply.code == "internal" and "3 MB free" in reply.detail


def test_a_conflict_over_its_budget_goes_to_the_decider_which_journals_its_refusal():
    """Other content under a used id is not a replay, but it is the decider's to answer
    (intent_id_conflict, with its refused-request row and alert), budget or not."""
    assert refusal(incoming("d-1", "999"), decided("d-1"), DISK_FINE, 60) is None
