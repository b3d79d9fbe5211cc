"""sandbox/faults.py: which requests a fault hits, and how many."""

from __future__ import annotations

import msgspec
import pytest

from sandbox.faults import FaultPlan, parse_faults


def plan_with(*faults: dict) -> FaultPlan:
    plan = FaultPlan()
    plan.add(parse_faults(msgspec.json.encode({"faults": list(faults)})))
    return plan


def test_fault_hits_the_next_count_matching_requests_then_stops():
    """count=2: the next two matching requests, then none."""
    plan = plan_with({"path": "/a", "kind": "5xx_before", "count": 2})
    kinds = [getattr(plan.take("GET", "/a").fault, "kind", None) for _ in range(3)]
    assert kinds == ["5xx_before", "5xx_before", None]
    assert plan.describe() == []


def test_other_paths_and_methods_are_untouched():
    """Path must match exactly; a method, when given, too."""
    plan = plan_with({"path": "/a", "kind": "auth", "method": "POST"})
    assert plan.take("GET", "/a").fault is None
    assert plan.take("POST", "/ab").fault is None
    assert plan.take("POST", "/a").fault.kind == "auth"


def test_latency_stacks_with_one_other_fault():
    """A latency fault and a drop on the same path both apply to one request."""
    plan = plan_with({"path": "/a", "kind": "latency", "seconds": 0.25},
                     {"path": "/a", "kind": "drop_after"}, {"path": "/a", "kind": "429"})
    taken = plan.take("GET", "/a")
    assert taken.latency_seconds == 0.25 and taken.fault.kind == "drop_after"
    assert plan.take("GET", "/a").fault.kind == "429"


def test_count_minus_one_lasts_until_cleared():
    """count=-1 keeps hitting until DELETE /sandbox/faults."""
    plan = plan_with({"path": "/a", "kind": "418", "count": -1})
    assert all(plan.take("GET", "/a").fault for _ in range(5))
    plan.clear()
    assert plan.take("GET", "/a").fault is None


def test_plan_aliases_are_accepted():
    """The plan's names clock_skew and auth_-2015 mean -1021 and auth."""
    plan = plan_with({"path": "/a", "kind": "clock_skew"}, {"path": "/b", "kind": "auth_-2015"})
    assert plan.take("GET", "/a").fault.kind == "-1021"
    assert plan.take("GET", "/b").fault.kind == "auth"


@pytest.mark.parametrize("body", [
    {"faults": [{"path": "/a", "kind": "explode"}]},
    {"faults": [{"path": "a", "kind": "429"}]},
    {"faults": [{"path": "/a", "kind": "429", "colour": "red"}]},
    {"faults": [{"path": "/a", "kind": "5xx_before", "status": 404}]},
    {"fault": []},
])
def test_bad_fault_bodies_are_refused(body):
    """Unknown kinds, relative paths, unknown fields and non-5XX statuses are errors."""
    with pytest.raises(msgspec.ValidationError):
        parse_faults(msgspec.json.encode(body))


def test_default_statuses_are_503_before_and_500_after():
    """5xx_before answers 503, 5xx_after 500, unless a status is given."""
    specs = parse_faults(msgspec.json.encode({"faults": [
        {"path": "/a", "kind": "5xx_before"}, {"path": "/a", "kind": "5xx_after"},
        {"path": "/a", "kind": "5xx_after", "status": 502}]}))
    assert [s.http_status() for s in specs] == [503, 500, 502]
