"""Which queued intents are stalled, and why (treasury_bot/stall.py; issue 10, defect 3). Pure."""

from __future__ import annotations

from treasury_bot.stall import Waiting, find_stalls, stall_reason

MIN = 60_000
T = 1_700_000_000_000
STUCK = 60 * MIN


def waiting(seq: int = 1, since: int = T, code: str | None = None, message: str | None = None) -> Waiting:
    return Waiting(seq=seq, queued_since=since, error_code=code, error_message=message)


def test_an_intent_queued_for_stuck_after_minutes_is_stalled_and_not_a_millisecond_sooner():
    """The wait counts from the first time it became queued; the edge is inclusive."""
    assert find_stalls([waiting()], T + STUCK - 1, STUCK, None, set()) == []
    [stall] = find_stalls([waiting(code="exchange_unavailable", message="connection refused")],
                          T + STUCK, STUCK, None, set())
    assert (stall.seq, stall.waited_ms) == (1, STUCK)
    assert stall.reason == "last error exchange_unavailable: connection refused"


def test_an_intent_already_alerted_is_never_stalled_again():
    """One alert per intent: the ones in `already` are skipped."""
    assert find_stalls([waiting(seq=7)], T + 10 * STUCK, STUCK, None, {7}) == []


def test_a_halt_is_the_reason_whatever_the_last_error():
    """Nothing is sent while halted, so the halt is what the operator must fix first."""
    reason = stall_reason(waiting(code="http_503", message="busy"), "-2015 Invalid API-key")
    assert reason == "withdrawals halted: -2015 Invalid API-key"


def test_an_intent_never_tried_says_so():
    """No apply error recorded: the reason says it was not sent yet, not an empty string."""
    assert stall_reason(waiting(), None) == "not sent yet (no apply error recorded)"


def test_only_the_ones_past_the_limit_are_returned_in_order():
    """A mix: old and young, alerted and not."""
    items = [waiting(1, T), waiting(2, T + 30 * MIN), waiting(3, T - STUCK), waiting(4, T)]
    found = find_stalls(items, T + STUCK, STUCK, None, {4})
    assert [s.seq for s in found] == [1, 3]
