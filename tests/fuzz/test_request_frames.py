"""Property tests of request frames against a live treasury: the real IntentServer on real
CURVE sockets, with a real ledger file, in-process on a fake clock (tests/fuzz/conftest.py).

For every frame: a typed `error` (malformed / unknown_type) for what the schema refuses,
the reference policy's `decision` for a well-formed intent, no reply for what is dropped;
nothing journaled for any refused frame; the server keeps serving, and a well-formed
request right after each bad one is answered correctly (harness.Judge checks it all).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given

from common import __version__, messages
from tests.fuzz import frames
from tests.fuzz import wire_model as model
from tests.fuzz.frames import Case, ci_settings

NOW = model.FUZZ_NOW_MS


def judged(live, case: Case) -> None:
    problems = live.judge.run(case)
    assert not problems, "\n".join(problems)


@ci_settings(max_examples=200)
@given(case=frames.valid_cases(NOW))
def test_well_formed_requests_get_the_reference_answer(live, case):
    """Valid intents get the reference policy's decision, replays the first one, reused ids a conflict."""
    judged(live, frames.fresh_ids(case, next(_serial)))


_serial = itertools.count()


@pytest.mark.parametrize("category", sorted(frames.BAD_CATEGORIES))
def test_bad_frames_get_a_typed_error_and_change_nothing(live, category):
    """Nearly valid, amount, unicode, wrong tag, structure, garbage and multi-frame cases:
    a typed error (or, where a mutation stayed valid, the right decision), nothing journaled,
    and a ping right after is answered."""
    @ci_settings(max_examples=120)
    @given(case=frames.BAD_CATEGORIES[category](NOW))
    def run(case):
        judged(live, case)
    run()


@pytest.mark.parametrize("category", sorted(frames.DROPPED_CATEGORIES))
def test_dropped_frames_get_no_reply_and_the_server_keeps_serving(live, category):
    """Over 64 KiB, or without the empty delimiter: no reply, nothing journaled, still serving."""
    @ci_settings(max_examples=8)
    @given(case=frames.DROPPED_CATEGORIES[category](NOW))
    def run(case):
        judged(live, case)
    run()


@pytest.mark.parametrize("category", sorted(frames.DROPPED_CATEGORIES))
def test_dropped_frames_proven_without_waiting(live, category):
    """bench/fuzz.py's proofs of "no reply": by order (the ping behind a frame without
    delimiter is answered first) and by the disconnect that ends an oversize frame."""
    live.judge.fast_drops = True
    try:
        @ci_settings(max_examples=15)
        @given(case=frames.DROPPED_CATEGORIES[category](NOW))
        def run(case):
            judged(live, case)
        run()
    finally:
        live.judge.fast_drops = False


@ci_settings(max_examples=250)
@given(case=frames.any_case(NOW, dropped_weight=0))
def test_a_mixed_stream_of_every_category(live, case):
    """Every category interleaved, so that a bad frame's after-effects meet every kind of request."""
    judged(live, case)


def test_the_size_limit_is_64_kib_exactly(live):
    """A frame of exactly 65,536 bytes is read (and refused as malformed); one byte more is dropped."""
    at_limit = b"\xc1" * model.MAX_FRAME_BYTES          # 0xc1: never used in MessagePack
    over = at_limit + b"\xc1"
    assert not live.judge.run(Case("huge", (at_limit,)))
    assert live.judge.tally.replies["error:malformed"] >= 1
    assert not live.judge.run(Case("huge", (over,)))


def test_zero_payload_frames_are_dropped(live):
    """The delimiter alone carries no request: dropped like a frame without delimiter."""
    assert not live.judge.run(Case("no_payload", ()))


def test_the_server_survived_every_frame(live):
    """After all the above the server thread is alive, error-free and answers a ping."""
    tally = live.judge.tally
    print(f"\nfuzz frames: sent {dict(tally.sent)} replies {dict(tally.replies)} intents {dict(tally.intents)}")
    assert live.server.thread.is_alive() and live.server.error is None
    assert live.judge.link.request("signal", messages.Ping()) == messages.Pong(version=__version__)
    assert not live.judge.tally.problems
    assert live.judge.tally.bad_ledger_writes == 0
