"""Minimal regressions for the bugs the fuzzers found, one input each, kept forever."""

from __future__ import annotations

import pytest

from common import messages

# {"type": <a str whose bytes are not UTF-8>}: msgspec raised UnicodeDecodeError, which
# escaped decode_request and killed the treasury's server loop.
TYPE_NOT_UTF8 = b"\x81\xa4type\xa2\xff\xfe"
# {"x": [[[...0...]]], "type": "ping"} nested past the recursion limit: RecursionError.
DEEP_BEFORE_TYPE = b"\x82\xa1x" + b"\x91" * 5000 + b"\x00" + b"\xa4type\xa4ping"
# {"type": "intent_status", "intent_id": <not UTF-8>}
FIELD_NOT_UTF8 = b"\x82\xa4type\xadintent_status\xa9intent_id\xa2\xff\xfe"


@pytest.mark.parametrize("frame", [TYPE_NOT_UTF8, DEEP_BEFORE_TYPE, FIELD_NOT_UTF8],
                         ids=["type-not-utf8", "deep-nesting", "field-not-utf8"])
def test_undecodable_frames_are_malformed_not_a_crash(frame):
    """Strings that are not UTF-8 and nesting past the recursion limit are error/malformed."""
    with pytest.raises(messages.WireError) as caught:
        messages.decode_request(frame)
    assert caught.value.code == "malformed"


def test_undecodable_reply_and_event_are_wire_errors():
    """The client side's decoders refuse the same bytes with WireError, not a crash."""
    for decode in (messages.decode_reply, messages.decode_event):
        with pytest.raises(messages.WireError):
            decode(TYPE_NOT_UTF8)
        with pytest.raises(messages.WireError):
            decode(DEEP_BEFORE_TYPE)


@pytest.mark.parametrize("body", [b'{"id": "\xff\xfe"}', b"[" * 60_000],
                         ids=["not-utf8", "deep-nesting"])
def test_webhook_bodies_that_msgspec_cannot_decode_are_400(body):
    """A body that is not UTF-8 or nests too deeply is 400 bad_json (it was no reply at all)."""
    from signal_bot.webhook import judge
    answer = judge(body, None, "test-secret-not-real-0001")
    assert answer.status == 400 and answer.body["error"] == "bad_json"
