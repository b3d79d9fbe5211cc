"""treasury_bot/lifecycle.py: every move is either allowed or refused, terminal statuses
never move, and the sets agree with each other and with the wire schema (pure)."""

from __future__ import annotations

import itertools

import pytest

from common import messages
from treasury_bot import lifecycle
from treasury_bot.lifecycle import ALLOWED, IllegalTransition, require_allowed

FROMS = (None, *sorted(lifecycle.ALL))
EVERY_MOVE = list(itertools.product(FROMS, sorted(lifecycle.SOURCES), sorted(lifecycle.ALL)))


def test_every_move_over_all_statuses_and_sources_is_allowed_or_refused():
    """(from, source, to) over ALL + None x SOURCES x ALL: in ALLOWED passes, anything else
    raises IllegalTransition naming the move."""
    allowed = refused = 0
    for from_status, source, to_status in EVERY_MOVE:
        if to_status in ALLOWED.get((from_status, source), frozenset()):
            require_allowed(from_status, source, to_status)
            assert lifecycle.is_allowed(from_status, source, to_status)
            allowed += 1
        else:
            with pytest.raises(IllegalTransition) as refusal:
                require_allowed(from_status, source, to_status)
            assert (refusal.value.from_status, refusal.value.source, refusal.value.to_status) == \
                (from_status, source, to_status)
            assert refusal.value.code == "illegal_transition"
            refused += 1
    assert allowed == sum(len(to) for to in ALLOWED.values()) and refused == len(EVERY_MOVE) - allowed


def test_the_table_speaks_only_of_known_statuses_and_sources():
    for (from_status, source), to in ALLOWED.items():
        assert from_status is None or from_status in lifecycle.ALL
        assert source in lifecycle.SOURCES
        assert to and to <= lifecycle.ALL
        assert from_status not in to, "a move to the same status is no move"


def test_a_terminal_status_has_no_way_out():
    for status in lifecycle.TERMINAL:
        for source in lifecycle.SOURCES:
            assert (status, source) not in ALLOWED
            for to_status in lifecycle.ALL:
                assert not lifecycle.is_allowed(status, source, to_status)
        assert lifecycle.is_terminal(status)


def test_every_open_status_can_be_left_and_every_status_can_be_reached():
    reached = set().union(*ALLOWED.values())
    assert reached == lifecycle.ALL
    leaving = {from_status for from_status, _ in ALLOWED if from_status is not None}
    assert leaving == set(lifecycle.OPEN)


def test_only_the_decider_creates_and_only_in_its_three_statuses():
    creators = {source for from_status, source in ALLOWED if from_status is None}
    assert creators == {lifecycle.DECIDER}
    assert ALLOWED[(None, lifecycle.DECIDER)] == set(lifecycle.STATUS_OF_OUTCOME.values())


def test_needs_review_is_left_only_by_an_operator_and_only_to_a_resolution():
    ways_out = {(source, to) for (from_status, source), tos in ALLOWED.items()
                if from_status == lifecycle.NEEDS_REVIEW for to in tos}
    assert ways_out == {(lifecycle.OPERATOR, status) for status in lifecycle.RESOLVE_AS}


def test_needs_review_cannot_be_reached_from_an_exchange_open_status():
    """Why the poller's guard is only `status in EXCHANGE_OPEN` (issue 11, item 3)."""
    for status in lifecycle.EXCHANGE_OPEN:
        for source in lifecycle.SOURCES:
            assert not lifecycle.is_allowed(status, source, lifecycle.NEEDS_REVIEW)


def test_from_an_exchange_open_status_only_the_exchanges_answer_moves_an_intent():
    reports = set(lifecycle.EXCHANGE_STATUS.values())
    for (from_status, source), tos in ALLOWED.items():
        if from_status in lifecycle.EXCHANGE_OPEN:
            assert source in {lifecycle.POLLER, lifecycle.EXECUTOR}
            assert tos == reports - {from_status}
    # The executor follows the exchange only in the commit that adopts a found withdrawal.
    assert {f for f, s in ALLOWED if s == lifecycle.EXECUTOR and f in lifecycle.EXCHANGE_OPEN} \
        == {lifecycle.SUBMITTED}


def test_the_sets_agree_with_each_other():
    assert lifecycle.TERMINAL | set(lifecycle.OPEN) == lifecycle.ALL
    assert not lifecycle.TERMINAL & set(lifecycle.OPEN)
    assert set(lifecycle.EXCHANGE_OPEN) <= set(lifecycle.OPEN)
    assert lifecycle.WITHDRAWAL_ENDS == lifecycle.TERMINAL - {lifecycle.DENIED, lifecycle.SHADOWED}
    assert lifecycle.GIVES_BACK_TO_WINDOW == lifecycle.WITHDRAWAL_ENDS - {lifecycle.COMPLETED}
    assert set(lifecycle.RESOLVE_AS) <= lifecycle.WITHDRAWAL_ENDS
    reports = set(lifecycle.EXCHANGE_STATUS.values())
    assert reports - lifecycle.WITHDRAWAL_ENDS == set(lifecycle.EXCHANGE_OPEN) - {lifecycle.SUBMITTED}
    assert lifecycle.WITHDRAWAL_ENDS <= reports
    assert all(lifecycle.counts_in_window(s) != (s in lifecycle.GIVES_BACK_TO_WINDOW)
               for s in lifecycle.ALL)


def test_the_sets_agree_with_the_wire_schema():
    assert lifecycle.ALL == set(messages.STATUSES)
    assert lifecycle.OPEN == tuple(s for s in messages.STATUSES if s not in lifecycle.TERMINAL)
    assert lifecycle.TERMINAL == messages.TERMINAL_STATUSES
    assert set(lifecycle.STATUS_OF_OUTCOME) == set(messages.Outcome.__args__)


def test_the_exchange_status_codes_map_as_the_design_says():
    """Binance's withdraw-history codes 0..6 (docs/design.md section 2)."""
    assert lifecycle.EXCHANGE_STATUS == {0: "email_sent", 1: "cancelled", 2: "awaiting_approval",
                                         3: "rejected", 4: "processing", 5: "failed", 6: "completed"}
