"""The digest planner: prompt single alerts, folded floods, CRITICAL never folded."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.clock import FakeClock
from treasury_bot.alerts import digest, model
from treasury_bot.alerts.model import CRITICAL, INFO, WARNING, PendingAlert

WINDOW_MS = 60_000
POLL_MS = 500


class FakeOutbox:
    """The planner driven the way the sender drives it: alerts appear in the outbox when
    raised, each pass plans with the last mail times so far, planned mails are 'sent'."""

    def __init__(self, clock: FakeClock, window_ms: int = WINDOW_MS) -> None:
        self.clock = clock
        self.window_ms = window_ms
        self.alerts: list[PendingAlert] = []
        self.mailed: dict[int, int] = {}                        # seq -> mail index
        self.mails: list[tuple[int, digest.PlannedMail]] = []  # (planned at, mail)
        self.last_plan: digest.Plan | None = None

    def raise_alert(self, kind: str = model.INTENT_REJECTED, severity: str | None = None,
                    at_ms: int | None = None) -> PendingAlert:
        seq = len(self.alerts) + 1
        item = PendingAlert(seq, kind, severity or model.severity_of(kind, {}),
                            self.clock.now_ms() if at_ms is None else at_ms)
        self.alerts.append(item)
        return item

    def last_mail_ms(self) -> dict[tuple[str, str], int]:
        last: dict[tuple[str, str], int] = {}
        for at, mail in self.mails:
            key = (mail.kind, mail.severity)
            last[key] = max(last.get(key, at), at)
        return last

    def drain(self) -> list[digest.PlannedMail]:
        now = self.clock.now_ms()
        unsent = [a for a in self.alerts if a.seq not in self.mailed]
        plan = digest.plan(unsent, self.last_mail_ms(), self.window_ms, now)
        self.last_plan = plan
        for mail in plan.mails:
            for item in mail.items:
                assert item.seq not in self.mailed, "an alert was planned twice"
                self.mailed[item.seq] = len(self.mails)
            self.mails.append((now, mail))
        return list(plan.mails)

    def run(self, seconds: float, poll_ms: int = POLL_MS) -> None:
        """Drain every poll for this long (the clock moves)."""
        for _ in range(int(seconds * 1000 // poll_ms)):
            self.clock.advance(poll_ms / 1000)
            self.drain()

    def sizes(self) -> list[int]:
        return [len(mail.items) for _, mail in self.mails]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now_ms=1_700_000_000_000)


@pytest.fixture
def outbox(clock: FakeClock) -> FakeOutbox:
    return FakeOutbox(clock)


def test_an_empty_outbox_plans_nothing(outbox):
    """No alerts, no mails, nothing to wake up for."""
    assert outbox.drain() == []
    assert outbox.last_plan.next_due_ms is None and outbox.last_plan.held == 0


def test_a_lone_alert_is_mailed_alone_at_once(outbox):
    """The first alert of a kind with no recent mail is not delayed by the window."""
    item = outbox.raise_alert()
    [mail] = outbox.drain()
    assert mail.items == (item,) and not mail.is_digest


def test_a_second_alert_within_the_window_is_held_until_its_window_closes(outbox, clock):
    """Held for one window from its own creation, then mailed (alone, as it is alone)."""
    outbox.raise_alert()
    outbox.drain()
    clock.advance(10)
    second = outbox.raise_alert()
    assert outbox.drain() == []
    assert outbox.last_plan.held == 1
    assert outbox.last_plan.next_due_ms == second.created_at_ms + WINDOW_MS
    clock.advance(59.999)
    assert outbox.drain() == []
    clock.advance(0.001)
    [mail] = outbox.drain()
    assert mail.items == (second,)


def test_an_alert_one_full_window_after_the_last_mail_goes_at_once(outbox, clock):
    """The boundary is inclusive: exactly one window later is no longer 'recent'."""
    outbox.raise_alert()
    outbox.drain()
    clock.advance(WINDOW_MS / 1000)
    item = outbox.raise_alert()
    assert [m.items for m in outbox.drain()] == [(item,)]


def test_a_burst_of_1000_rejections_is_two_mails_adding_up_to_1000(outbox, clock):
    """The first goes at once; the other 999, raised within the window, fold into one digest."""
    outbox.drain()
    for _ in range(1000):
        outbox.raise_alert()
        clock.advance(0.003)  # 1,000 in 3 s
        if len(outbox.alerts) % 100 == 0:
            outbox.drain()
    outbox.run(70)
    assert outbox.sizes() == [1, 999]
    assert sorted(outbox.mailed) == list(range(1, 1001))


def test_a_burst_already_waiting_at_the_first_pass_is_still_two_mails(outbox):
    """Even when the sender first looks after the whole burst, the first goes alone."""
    for _ in range(1000):
        outbox.raise_alert()
    assert outbox.sizes() == [] and len(outbox.drain()) == 1
    outbox.run(61)
    assert outbox.sizes() == [1, 999]


def test_critical_alerts_are_never_folded_nor_delayed(outbox, clock):
    """Thirty CRITICAL alerts of one kind within a second: thirty mails, in that very pass."""
    outbox.raise_alert(model.NEEDS_REVIEW)
    outbox.drain()
    for _ in range(30):
        clock.advance(0.01)
        outbox.raise_alert(model.NEEDS_REVIEW)
    mails = outbox.drain()
    assert len(mails) == 30 and all(not m.is_digest for m in mails)
    assert outbox.last_plan.held == 0


def test_critical_mails_come_first_in_a_plan(outbox):
    """In one pass, CRITICAL mails are ahead of the rest."""
    outbox.raise_alert(model.WITHDRAWAL_COMPLETED)
    outbox.raise_alert(model.INTENT_REJECTED)
    outbox.raise_alert(model.EXCHANGE_AUTH_ERROR)
    outbox.raise_alert(model.POLICY_CHANGED)
    severities = [m.severity for m in outbox.drain()]
    assert severities[:2] == [CRITICAL, CRITICAL] and CRITICAL not in severities[2:]


def test_a_critical_severity_overrides_the_kind_default(outbox):
    """Any alert marked CRITICAL is mailed alone, whatever its kind."""
    outbox.raise_alert(model.INTENT_REJECTED, severity=CRITICAL)
    outbox.drain()
    outbox.raise_alert(model.INTENT_REJECTED, severity=CRITICAL)
    assert len(outbox.drain()) == 1


def test_kinds_and_severities_are_folded_separately(outbox, clock):
    """Rejections, operator rejections (INFO) and approvals never share a digest."""
    for _ in range(3):
        outbox.raise_alert(model.INTENT_REJECTED, WARNING)
        outbox.raise_alert(model.INTENT_REJECTED, INFO)
        outbox.raise_alert(model.APPROVAL_NEEDED)
        clock.advance(1)
    outbox.run(65)
    for _, mail in outbox.mails:
        assert {(i.kind, i.severity) for i in mail.items} == {(mail.kind, mail.severity)}
    assert sorted(outbox.sizes()) == [1, 1, 1, 2, 2, 2]


def test_a_steady_stream_is_about_one_mail_per_window(outbox, clock):
    """One rejection a second for ten minutes: about eleven mails, at least a window apart."""
    for _ in range(600):
        outbox.raise_alert()
        outbox.run(1)
    outbox.run(70)
    times = [at for at, _ in outbox.mails]
    assert 10 <= len(times) <= 12
    assert all(b - a >= WINDOW_MS - POLL_MS for a, b in zip(times, times[1:]))
    assert sum(outbox.sizes()) == 600


def test_no_alert_waits_longer_than_one_window_and_one_poll(outbox, clock):
    """Folding delays an alert by at most the window it was held for."""
    for i in range(300):
        outbox.raise_alert()
        outbox.run(0.5 + (i % 7) * 0.75)
    outbox.run(61)
    for seq, index in outbox.mailed.items():
        at, _ = outbox.mails[index]
        assert at - outbox.alerts[seq - 1].created_at_ms <= WINDOW_MS + POLL_MS


def test_a_backlog_after_an_outage_drains_in_one_pass(outbox, clock):
    """Ten minutes of alerts never mailed (server down): one pass sends every closed window."""
    start = clock.now_ms()
    for i in range(600):
        outbox.raise_alert(at_ms=start + i * 1000)
    clock.advance(700)
    outbox.drain()
    assert len(outbox.mailed) == 600
    assert 10 <= len(outbox.mails) <= 12
    for _, mail in outbox.mails:
        span = mail.items[-1].created_at_ms - mail.items[0].created_at_ms
        assert span < WINDOW_MS


def test_isolated_alerts_in_a_backlog_each_go_alone(outbox, clock):
    """Alerts far apart stay separate mails even when they are all mailed late."""
    start = clock.now_ms()
    for offset_s in (0, 100, 200, 300):
        outbox.raise_alert(at_ms=start + offset_s * 1000)
    clock.advance(400)
    assert outbox.sizes() == [] and [len(m.items) for m in outbox.drain()] == [1, 1, 1, 1]


def test_in_a_backlog_a_digest_counts_as_sent_when_its_window_closed(outbox, clock):
    """After a late digest, a lone alert raised a window after that digest's window closed
    goes at once, as it would have if the server had been up."""
    start = clock.now_ms()
    outbox.raise_alert(at_ms=start)
    outbox.raise_alert(at_ms=start + 1_000)
    outbox.raise_alert(at_ms=start + 2_000)
    lone = outbox.raise_alert(at_ms=start + 150_000)
    clock.advance(160)
    assert [len(m.items) for m in outbox.drain()] == [1, 2, 1]
    assert outbox.mails[-1][1].items == (lone,)


def test_an_open_window_in_a_backlog_is_held_and_reports_when_it_closes(outbox, clock):
    """A window still open at the pass is held; the plan says when it will be due."""
    start = clock.now_ms()
    outbox.raise_alert(at_ms=start)
    second = outbox.raise_alert(at_ms=start + 1000)
    outbox.raise_alert(at_ms=start + 2000)
    clock.advance(30)
    assert outbox.sizes() == [] and len(outbox.drain()) == 1
    assert outbox.last_plan.held == 2
    assert outbox.last_plan.next_due_ms == second.created_at_ms + WINDOW_MS


def test_a_digest_holds_only_alerts_raised_within_the_window_of_its_first(outbox, clock):
    """An alert raised after the window closed starts the next window."""
    start = clock.now_ms()
    outbox.raise_alert(at_ms=start)
    outbox.drain()
    inside = [outbox.raise_alert(at_ms=start + ms) for ms in (1000, 30_000, 60_999)]
    after = outbox.raise_alert(at_ms=start + 61_000)
    clock.advance(62)
    mails = outbox.drain()
    assert [m.items for m in mails] == [tuple(inside)]
    assert outbox.last_plan.next_due_ms == after.created_at_ms + WINDOW_MS


def test_the_window_must_be_positive():
    """A zero window would fold nothing and hold for ever; it is refused."""
    with pytest.raises(ValueError):
        digest.plan([], {}, 0, 0)


# -- properties over random traffic -------------------------------------------------------

_KINDS = (model.INTENT_REJECTED, model.APPROVAL_NEEDED, model.WITHDRAWAL_COMPLETED,
          model.NEEDS_REVIEW, model.EXCHANGE_AUTH_ERROR)

traffic = st.lists(st.tuples(st.integers(0, 240_000), st.sampled_from(_KINDS)), max_size=120)


@settings(max_examples=60, deadline=None)
@given(traffic=traffic, outage_ms=st.sampled_from([0, 0, 90_000, 200_000]))
def test_random_traffic_keeps_every_promise(traffic, outage_ms):
    """Every alert in exactly one mail of its own kind and severity; CRITICAL alone and at
    the first pass; digests span less than a window; nobody waits more than a window
    (after an outage ends); mails of a kind at least a window apart, less one poll."""
    clock = FakeClock(now_ms=0)
    outbox = FakeOutbox(clock)
    pending = sorted(traffic)
    while clock.now_ms() <= 300_000 + WINDOW_MS + POLL_MS:
        while pending and pending[0][0] <= clock.now_ms():
            at, kind = pending.pop(0)
            outbox.raise_alert(kind, at_ms=at)
        if clock.now_ms() >= outage_ms:
            outbox.drain()
        clock.advance(POLL_MS / 1000)
    assert sorted(outbox.mailed) == [a.seq for a in outbox.alerts]
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for at, mail in outbox.mails:
        kinds = {(i.kind, i.severity) for i in mail.items}
        assert kinds == {(mail.kind, mail.severity)}
        span = mail.items[-1].created_at_ms - mail.items[0].created_at_ms
        assert span < WINDOW_MS
        for item in mail.items:
            became_sendable = max(item.created_at_ms, outage_ms)
            limit = POLL_MS if mail.severity == CRITICAL else WINDOW_MS + POLL_MS
            assert at - became_sendable <= limit
        if mail.severity == CRITICAL:
            assert len(mail.items) == 1
        else:
            by_key[(mail.kind, mail.severity)].append(at)
    if outage_ms == 0:
        for times in by_key.values():
            assert all(b - a >= WINDOW_MS - POLL_MS for a, b in zip(times, times[1:]))
