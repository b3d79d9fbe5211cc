"""The per-client request budget (DESIGN section 9, issue 10 defect 6): pure, monotonic time in."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from treasury_bot.request_budget import DEFAULT_MAX_REQUESTS_PER_MINUTE, Digest, RequestBudget


def test_a_client_gets_its_budget_per_sliding_minute_and_no_more():
    budget = RequestBudget({"bot": 3})
    assert [budget.admit("bot", t) for t in (0.0, 1.0, 2.0, 3.0)] == [True, True, True, False]
    assert budget.admit("bot", 59.999) is False
    assert budget.admit("bot", 60.0) is True        # the request at 0.0 left the window
    assert budget.refused_total("bot") == 2


def test_clients_have_separate_budgets_and_unlisted_ones_get_the_default():
    budget = RequestBudget({"small": 1})
    assert budget.admit("small", 0.0) and not budget.admit("small", 0.1)
    assert budget.limit_for("other") == DEFAULT_MAX_REQUESTS_PER_MINUTE == 600
    assert all(budget.admit("other", i / 1000) for i in range(600))
    assert not budget.admit("other", 0.9)


def test_refusals_leave_as_one_digest_per_client_per_minute_with_the_count():
    budget = RequestBudget({"bot": 1})
    budget.admit("bot", 0.0)
    for t in (0.1, 0.2, 0.3):
        budget.admit("bot", t)
    assert budget.due_digests(0.3) == [Digest("bot", 3, 1)]
    budget.admit("bot", 1.0)
    assert budget.due_digests(30.0) == []            # not a minute since the last digest
    assert budget.due_digests(60.3) == [Digest("bot", 1, 1)]
    assert budget.due_digests(200.0) == []           # nothing refused since


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(0, 5, allow_nan=False), max_size=80), limit=st.integers(1, 10))
def test_no_sixty_seconds_ever_hold_more_admitted_requests_than_the_budget(gaps, limit):
    budget = RequestBudget({"bot": limit})
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if budget.admit("bot", now):
            admitted.append(now)
    for start in admitted:
        assert sum(1 for t in admitted if start <= t < start + 60.0) <= limit
