"""sandbox/lifecycle.py: a withdrawal's status from its timeline and the clock."""

from __future__ import annotations

import dataclasses

from sandbox import lifecycle
from sandbox.lifecycle import plan_timeline, status_at

T0 = 1_700_000_000_000


def plan(address: str = "good", email: float = 0.0, complete: float = 3.0):
    return plan_timeline(T0, address, email, complete, failing=("bad",), rejecting=("nope",))


def test_processing_until_complete_after_then_completed_with_complete_time():
    """4 right after apply, 6 from apply + complete_after_seconds, with that completeTime."""
    timeline = plan()
    assert status_at(timeline, T0).status == lifecycle.PROCESSING
    assert status_at(timeline, T0 + 2999).status == lifecycle.PROCESSING
    done = status_at(timeline, T0 + 3000)
    assert done.status == lifecycle.COMPLETED
    assert done.complete_time_ms == T0 + 3000


def test_email_phase_comes_first_when_configured():
    """email_sent_seconds > 0: status 0, then 4, then 6, the completion delay counted after the email."""
    timeline = plan(email=1.5, complete=2.0)
    assert status_at(timeline, T0 + 1499).status == lifecycle.EMAIL_SENT
    assert status_at(timeline, T0 + 1500).status == lifecycle.PROCESSING
    assert status_at(timeline, T0 + 3499).status == lifecycle.PROCESSING
    assert status_at(timeline, T0 + 3500).status == lifecycle.COMPLETED


def test_failing_and_rejecting_addresses_end_as_5_and_3_with_info():
    """Configured addresses end failed (5) or rejected (3), never completed, and say why."""
    failed = status_at(plan("bad"), T0 + 3000)
    rejected = status_at(plan("nope"), T0 + 3000)
    assert (failed.status, rejected.status) == (lifecycle.FAILED, lifecycle.REJECTED)
    assert failed.complete_time_ms is None and failed.info
    assert status_at(plan("bad"), T0 + 10).status == lifecycle.PROCESSING


def test_forced_status_applies_from_its_moment_on():
    """An operator's forced status (cancelled) wins from when it was set, not before."""
    timeline = dataclasses.replace(plan(), forced_status=lifecycle.CANCELLED, forced_at_ms=T0 + 1000)
    assert status_at(timeline, T0 + 999).status == lifecycle.PROCESSING
    cancelled = status_at(timeline, T0 + 5000)
    assert cancelled.status == lifecycle.CANCELLED
    assert cancelled.info == lifecycle.CANCELLED_INFO


def test_forced_completion_reports_its_own_complete_time_and_custom_info():
    """Forcing 6 completes at the forcing moment; a given info text is reported as is."""
    timeline = dataclasses.replace(plan(complete=100), forced_status=lifecycle.COMPLETED,
                                   forced_at_ms=T0 + 10, forced_info="operator says done")
    view = status_at(timeline, T0 + 20)
    assert (view.status, view.complete_time_ms, view.info) == (6, T0 + 10, "operator says done")


def test_status_depends_only_on_time_so_it_survives_restarts():
    """The same timeline read at the same moment gives the same answer (no hidden state)."""
    timeline = plan()
    assert status_at(timeline, T0 + 3000) == status_at(dataclasses.replace(timeline), T0 + 3000)


def test_refunded_statuses_are_cancelled_rejected_failed():
    """Only the statuses that pay nothing out give the amount back."""
    assert lifecycle.REFUNDED == {1, 3, 5}


def test_awaiting_approval_phase_is_status_2_between_the_email_and_processing():
    """awaiting_approval_seconds > 0: 0, then 2 (awaiting approval), then 4, then 6, each delay after the last."""
    timeline = plan_timeline(T0, "good", 1.0, 2.0, failing=(), rejecting=(), awaiting_approval_seconds=5.0)
    assert status_at(timeline, T0 + 999).status == lifecycle.EMAIL_SENT
    assert status_at(timeline, T0 + 1000).status == lifecycle.AWAITING_APPROVAL
    assert status_at(timeline, T0 + 5999).status == lifecycle.AWAITING_APPROVAL
    assert status_at(timeline, T0 + 6000).status == lifecycle.PROCESSING
    done = status_at(timeline, T0 + 8000)
    assert (done.status, done.complete_time_ms) == (lifecycle.COMPLETED, T0 + 8000)


def test_no_awaiting_approval_phase_by_default():
    """Without awaiting_approval_seconds a withdrawal never shows status 2."""
    timeline = plan()
    assert timeline.approval_until_ms is None
    assert {status_at(timeline, T0 + ms).status for ms in range(0, 4000, 250)} == {
        lifecycle.PROCESSING, lifecycle.COMPLETED}
