"""The wire contract (DESIGN section 2): every malformed frame is a typed WireError whose
code is the wire's and whose detail names the field; every message round-trips."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import messages
from common.messages import (Decision, Error, IntentState, IntentStatus, Ping, Pong, TransferIntent,
                             WireError, WithdrawalEvent)
from tests.support.messages_cases import PROPERTY, GOOD, DROP, frame, refused


# (case, frame, code, words the detail must contain)
MALFORMED = [
    # amounts: the grammar, the sign, the value, the type
    ("amount NaN", frame(amount="NaN"), "malformed", "$.amount"),
    ("amount Infinity", frame(amount="Infinity"), "malformed", "$.amount"),
    ("amount -1", frame(amount="-1"), "malformed", "$.amount"),
    ("amount exponent", frame(amount="1e5"), "malformed", "$.amount"),
    ("amount upper exponent", frame(amount="1E5"), "malformed", "$.amount"),
    ("amount leading space", frame(amount=" 1"), "malformed", "$.amount"),
    ("amount trailing space", frame(amount="1 "), "malformed", "$.amount"),
    ("amount plus sign", frame(amount="+1"), "malformed", "$.amount"),
    ("amount trailing dot", frame(amount="1."), "malformed", "$.amount"),
    ("amount leading dot", frame(amount=".5"), "malformed", "$.amount"),
    ("amount zero", frame(amount="0"), "malformed", "$.amount"),
    ("amount zero with decimals", frame(amount="0.000"), "malformed", "$.amount"),
    ("amount 19 decimals", frame(amount="1." + "1" * 19), "malformed", "$.amount"),
    ("amount empty", frame(amount=""), "malformed", "$.amount"),
    ("amount comma", frame(amount="1,5"), "malformed", "$.amount"),
    ("amount trailing newline", frame(amount="1\n"), "malformed", "$.amount"),
    ("amount over 64 chars", frame(amount="1" * 65), "malformed", "$.amount"),
    ("amount float", frame(amount=100.5), "malformed", "$.amount"),
    ("amount int", frame(amount=100), "malformed", "$.amount"),
    ("amount null", frame(amount=None), "malformed", "$.amount"),
    # patterns, anchored with \Z: a final newline is not allowed through
    ("intent_id trailing newline", frame(intent_id="abc\n"), "malformed", "$.intent_id"),
    ("intent_id 37 chars", frame(intent_id="a" * 37), "malformed", "$.intent_id"),
    ("intent_id empty", frame(intent_id=""), "malformed", "$.intent_id"),
    ("intent_id with a dot", frame(intent_id="a.b"), "malformed", "$.intent_id"),
    ("intent_id int", frame(intent_id=7), "malformed", "$.intent_id"),
    ("coin lower case", frame(coin="usdt"), "malformed", "$.coin"),
    ("coin trailing newline", frame(coin="USDT\n"), "malformed", "$.coin"),
    ("coin 21 chars", frame(coin="A" * 21), "malformed", "$.coin"),
    ("network with a dash", frame(network="TRX-1"), "malformed", "$.network"),
    ("network trailing newline", frame(network="TRX\n"), "malformed", "$.network"),
    ("destination starts with a dot", frame(destination=".cold"), "malformed", "$.destination"),
    ("destination trailing newline", frame(destination="cold\n"), "malformed", "$.destination"),
    ("destination 65 chars", frame(destination="c" * 65), "malformed", "$.destination"),
    ("destination list", frame(destination=["cold"]), "malformed", "$.destination"),
    ("reason 201 chars", frame(reason="r" * 201), "malformed", "$.reason"),
    ("reason bytes", frame(reason=b"sweep"), "malformed", "$.reason"),
    # times
    ("created_at negative", frame(created_at=-1), "malformed", "$.created_at"),
    ("created_at float", frame(created_at=1.5), "malformed", "$.created_at"),
    ("created_at string", frame(created_at="1700000000000"), "malformed", "$.created_at"),
    ("created_at bool", frame(created_at=True), "malformed", "$.created_at"),
    ("created_at over 2**53", frame(created_at=2**53 + 1), "malformed", "$.created_at"),
    # missing and extra fields
    ("missing intent_id", frame(intent_id=DROP), "malformed", "`intent_id`"),
    ("missing amount", frame(amount=DROP), "malformed", "`amount`"),
    ("missing created_at", frame(created_at=DROP), "malformed", "`created_at`"),
    ("extra field", frame(address="TXYZ"), "malformed", "`address`"),
    ("extra field on ping", msgspec.msgpack.encode({"type": "ping", "x": 1}), "malformed", "`x`"),
    ("extra field on intent_status",
     msgspec.msgpack.encode({"type": "intent_status", "intent_id": "a", "amount": "1"}), "malformed", "`amount`"),
    ("intent_status without id", msgspec.msgpack.encode({"type": "intent_status"}), "malformed", "`intent_id`"),
    ("intent_status id newline",
     msgspec.msgpack.encode({"type": "intent_status", "intent_id": "a\n"}), "malformed", "$.intent_id"),
    # the tag
    ("missing tag", frame(type=DROP), "malformed", "`type`"),
    ("tag of wrong type", frame(type=5), "malformed", "`type`"),
    ("tag null", frame(type=None), "malformed", "`type`"),
    ("tag unknown", frame(type="withdraw_now"), "unknown_type", "withdraw_now"),
    ("tag of a reply", frame(type="decision"), "unknown_type", "decision"),
    ("tag case differs", frame(type="Transfer_Intent"), "unknown_type", "Transfer_Intent"),
    # not a map at all
    ("empty frame", b"", "malformed", "MessagePack"),
    ("not msgpack", b"\xc1", "malformed", "MessagePack"),
    ("json text", b'{"type": "ping"}', "malformed", "type"),
    ("trailing bytes", msgspec.msgpack.encode({"type": "ping"}) + b"\x00", "malformed", "MessagePack"),
    ("truncated map", frame()[:-3], "malformed", "MessagePack"),
    ("msgpack list", msgspec.msgpack.encode([GOOD]), "malformed", "map"),
    ("msgpack int", msgspec.msgpack.encode(7), "malformed", "map"),
    ("msgpack str", msgspec.msgpack.encode("transfer_intent"), "malformed", "map"),
    ("msgpack nil", msgspec.msgpack.encode(None), "malformed", "map"),
    ("oversize frame", frame(reason="r" * (messages.MAX_FRAME_BYTES + 1)), "malformed", "bytes"),
    ("string not UTF-8", frame(reason="RR").replace(b"\xa2RR", b"\xa2\xff\xfe"), "malformed", "UTF-8"),
    ("key not UTF-8", frame(reason="RR").replace(b"\xa6reason", b"\xa6reas\xff\xfe"), "malformed", "UTF-8"),
    ("deeply nested lists", b"\x91" * 60_000 + b"\xc0", "malformed", ""),
    ("deeply nested field", b"\x81\xa4type" + b"\x91" * 60_000 + b"\xc0", "malformed", ""),
]


@pytest.mark.parametrize("raw, code, words", [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_each_malformed_frame_is_a_wire_error_naming_the_field(raw, code, words):
    """The frame is refused with the wire's code and a detail that names the field or problem."""
    error = refused(raw)
    assert error.code == code
    assert words in error.detail
    assert len(error.detail) <= 300
    assert error.to_reply() == Error(code=code, detail=error.detail)


def test_the_table_holds_over_thirty_kinds_of_malformed_frame():
    """The contract asks for 30+ distinct malformed cases; the table is kept that large."""
    assert len({case[0] for case in MALFORMED}) >= 30


@pytest.mark.parametrize("amount", ["1", "0.000000000000000001", "20.000", "00020", "1." + "9" * 18,
                                    "9" * 60, "100.5"])
def test_amounts_in_the_grammar_are_accepted_as_sent(amount):
    """Digits with 1-18 decimals, > 0, are accepted and kept as the client spelled them."""
    decoded = messages.decode_request(frame(amount=amount))
    assert decoded.amount == amount


def test_boundary_lengths_are_accepted():
    """36-char id, 20-char coin, 32-char network, 64-char label and 200-char reason pass."""
    decoded = messages.decode_request(frame(intent_id="a" * 36, coin="A" * 20, network="N_" * 16,
                                            destination="d" * 64, reason="r" * 200, created_at=0))
    assert isinstance(decoded, TransferIntent)


def test_an_unknown_tag_is_cut_to_a_bounded_detail():
    """A huge unknown tag does not flood the reply."""
    error = refused(frame(type="x" * 5000))
    assert error.code == "unknown_type" and len(error.detail) < 80


def test_a_frame_at_the_size_limit_is_judged_on_its_content():
    """The 64 KiB bound refuses only what is over it: a frame of exactly 64 KiB reaches the
    schema (and fails on its long reason), one byte more is refused for its size."""
    probe = len(frame(reason="r" * 300))
    length = 300 + messages.MAX_FRAME_BYTES - probe
    at_limit = frame(reason="r" * length)
    assert len(at_limit) == messages.MAX_FRAME_BYTES
    assert "$.reason" in refused(at_limit).detail
    over = frame(reason="r" * (length + 1))
    assert "bytes is over" in refused(over).detail


REQUESTS = [
    TransferIntent(**{k: v for k, v in GOOD.items() if k != "type"}),
    IntentStatus(intent_id="abc"),
    Ping(),
]
REPLIES = [
    Decision(intent_id="a", outcome="accepted", reason_code=None, detail="", status="queued"),
    Decision(intent_id="a", outcome="pending_approval", reason_code="approval_required",
             detail="waiting", status="pending_approval"),
    Decision(intent_id="a", outcome="rejected", reason_code="over_window_limit", detail="x",
             status="denied"),
    IntentState(intent_id="a", outcome="accepted", status="completed", withdrawal_id="w1",
                tx_id="0xabc", updated_at=5),
    IntentState(intent_id="a", outcome="accepted", status="queued", withdrawal_id=None,
                tx_id=None, updated_at=5),
    Pong(version="0.1.0"),
    Error(code="unknown_intent", detail="no such intent"),
]


@pytest.mark.parametrize("message", REQUESTS, ids=lambda m: type(m).__name__)
def test_every_request_round_trips(message):
    """encode then decode_request gives the same request back."""
    assert messages.decode_request(messages.encode(message)) == message


@pytest.mark.parametrize("message", REPLIES, ids=lambda m: type(m).__name__)
def test_every_reply_round_trips(message):
    """encode then decode_reply gives the same reply back."""
    assert messages.decode_reply(messages.encode(message)) == message


@pytest.mark.parametrize("status", messages.STATUSES)
def test_every_status_round_trips_in_an_event(status):
    """A withdrawal event with any DESIGN status encodes and decodes unchanged."""
    event = WithdrawalEvent(intent_id="a", status=status, withdrawal_id="w", tx_id=None, at=1)
    assert messages.decode_event(messages.encode(event)) == event


def test_the_tag_is_the_type_field_on_the_wire():
    """Every message carries its kind in `type`, as DESIGN names it."""
    for message, tag in [(REQUESTS[0], "transfer_intent"), (REQUESTS[1], "intent_status"), (REQUESTS[2], "ping"),
                         (REPLIES[0], "decision"), (REPLIES[3], "intent_state"), (REPLIES[5], "pong"),
                         (REPLIES[6], "error"),
                         (WithdrawalEvent(intent_id="a", status="queued", withdrawal_id=None, tx_id=None, at=1),
                          "withdrawal_event")]:
        assert msgspec.msgpack.decode(messages.encode(message))["type"] == tag


def test_replies_carry_no_other_fields():
    """A reply with an extra field, or a status outside DESIGN's list, is refused by the client."""
    extra = msgspec.msgpack.encode({"type": "pong", "version": "1", "debug": True})
    with pytest.raises(WireError) as caught:
        messages.decode_reply(extra)
    assert caught.value.code == "malformed" and "`debug`" in caught.value.detail
    bad_status = msgspec.msgpack.encode({"type": "decision", "intent_id": "a", "outcome": "accepted",
                                         "reason_code": None, "detail": "", "status": "done"})
    with pytest.raises(WireError) as caught:
        messages.decode_reply(bad_status)
    assert "$.status" in caught.value.detail


def test_a_malformed_event_is_a_wire_error():
    """decode_event refuses what is not a withdrawal_event."""
    with pytest.raises(WireError) as caught:
        messages.decode_event(msgspec.msgpack.encode({"type": "withdrawal_event", "intent_id": "a"}))
    assert caught.value.code == "malformed" and "status" in caught.value.detail


def test_twenty_point_zero_zero_zero_is_the_same_content_as_twenty():
    """content_key compares amounts by value: "20.000" equals "20"; "20.001" does not."""
    base = {k: v for k, v in GOOD.items() if k != "type"}
    twenty = TransferIntent(**{**base, "amount": "20"})
    spelled = TransferIntent(**{**base, "amount": "20.000"})
    other = TransferIntent(**{**base, "amount": "20.001"})
    assert twenty.content_key() == spelled.content_key()
    assert twenty.content_key() != other.content_key()
    assert twenty.content_key() != TransferIntent(**{**base, "amount": "20", "reason": "x"}).content_key()
    assert spelled.amount_value == twenty.amount_value


def test_the_terminal_statuses_are_the_design_lists():
    """The wire's terminal set: DESIGN's five and shadow mode's own (issue 13; the exchange
    status codes live in treasury_bot/lifecycle.py)."""
    assert messages.TERMINAL_STATUSES == {"completed", "failed", "rejected", "cancelled", "denied", "shadowed"}
    assert messages.TERMINAL_STATUSES <= set(messages.STATUSES)


@PROPERTY
@given(st.binary(max_size=64))
def test_arbitrary_bytes_never_raise_anything_but_wire_error(raw):
    """Garbage in gives a request or a WireError, never another exception."""
    try:
        messages.decode_request(raw)
    except WireError as exc:
        assert exc.code in ("malformed", "unknown_type")


def raw_map(pairs: list[tuple[str, object]], header: str = "fix") -> bytes:
    """A MessagePack map written by hand, so that a key may repeat (a dict cannot say that)."""
    count = len(pairs)
    head = {"fix": bytes([0x80 | count]) if count < 16 else b"",
            "16": b"\xde" + count.to_bytes(2, "big"),
            "32": b"\xdf" + count.to_bytes(4, "big")}[header]
    assert head, "fixmap holds at most 15 entries"
    return head + b"".join(msgspec.msgpack.encode(k) + msgspec.msgpack.encode(v) for k, v in pairs)


@pytest.mark.parametrize("header", ["fix", "16", "32"])
def test_a_request_map_with_each_key_once_decodes_in_every_map_header(header):
    """fixmap, map16 and map32 headers are all counted right: no false 'repeated key'."""
    assert messages.decode_request(raw_map(list(GOOD.items()), header)) == TransferIntent(
        **{k: v for k, v in GOOD.items() if k != "type"})
    assert messages.decode_request(raw_map([("type", "ping")], header)) == Ping()
    assert messages.decode_request(raw_map([("type", "intent_status"), ("intent_id", "a")], header)) == \
        IntentStatus(intent_id="a")


@pytest.mark.parametrize("header", ["fix", "16", "32"])
@pytest.mark.parametrize("pairs", [
    list(GOOD.items()) + [("amount", "999")],                    # the last value would win
    list(GOOD.items()) + [("reason", "sweep after fill")],       # even the same value repeated
    list(GOOD.items()) + [("type", "transfer_intent")],          # the tag itself repeated
    [("type", "ping"), ("type", "ping")],
    [("type", "intent_status"), ("intent_id", "a"), ("intent_id", "b")],
], ids=["amount", "same-reason", "type", "ping-type", "status-intent-id"])
def test_a_request_map_that_repeats_a_key_is_malformed(pairs, header):
    """Issue 10 defect 6 / DESIGN 9: msgspec keeps the last value; the decoder refuses the frame."""
    error = refused(raw_map(pairs, header))
    assert error.code == "malformed" and "repeated" in error.detail


def test_a_60_kb_frame_of_repeated_keys_is_malformed_not_journaled():
    """The reproduced attack: a valid intent padded with thousands of repeated `reason` keys."""
    pairs = list(GOOD.items()) + [("reason", "r" * 200)] * 280
    raw = raw_map(pairs, "16")
    assert 55_000 < len(raw) <= messages.MAX_FRAME_BYTES
    assert refused(raw).code == "malformed"
