"""The sender's pure rules: claim transactions, send order, full batches, backoff."""

from __future__ import annotations

from dataclasses import dataclass

from treasury_bot.alerts import pacing
from treasury_bot.alerts.digest import PlannedMail
from treasury_bot.alerts.model import CRITICAL, INFO, WARNING, PendingAlert


def planned(first_seq: int, count: int) -> PlannedMail:
    items = tuple(PendingAlert(seq, "intent_rejected", WARNING, 1_000 + seq)
                  for seq in range(first_seq, first_seq + count))
    return PlannedMail("intent_rejected", WARNING, items)


@dataclass(frozen=True)
class Sending:
    mail_id: int
    severity: str


def test_claim_groups_never_put_more_than_a_chunk_of_alerts_in_one_transaction():
    """A 1,200-alert digest and two lone alerts, chunk 500: every group holds <= 500
    alerts, every alert is claimed once, in order, and only a mail's first part creates it."""
    mails = [planned(1, 1), planned(2, 1_200), planned(1_202, 1)]
    groups = pacing.claim_groups(mails, 500)
    assert all(sum(len(part) for _, _, part in group) <= 500 for group in groups)
    claimed = [seq for group in groups for _, _, part in group for seq in part]
    assert claimed == list(range(1, 1_203))
    starts = [(mail.seqs[0], start) for group in groups for mail, start, _ in group]
    assert starts == [(1, 0), (2, 0), (2, 500), (2, 1_000), (1_202, 0)]
    # a part that would overflow the open group starts the next one
    assert [sum(len(p) for _, _, p in g) for g in groups] == [1, 500, 500, 201]


def test_claim_groups_of_no_mails_is_no_transaction():
    assert pacing.claim_groups([], 500) == []


def test_critical_mails_go_first_then_the_oldest():
    queue = [Sending(5, INFO), Sending(3, WARNING), Sending(9, CRITICAL), Sending(4, CRITICAL)]
    assert [m.mail_id for m in pacing.send_order(queue)] == [4, 9, 3, 5]


def test_a_refused_mail_waits_for_its_own_retry_time_and_an_untried_one_is_due_now():
    mails = [Sending(1, INFO), Sending(2, INFO), Sending(3, INFO)]
    due = pacing.due_for_retry(mails, {1: 10.0, 2: 20.0}, monotonic=15.0)
    assert [m.mail_id for m in due] == [1, 3]


def test_a_batch_is_full_when_one_severity_filled_it():
    assert pacing.batch_full([INFO, INFO, WARNING], 2)
    assert not pacing.batch_full([INFO, WARNING, CRITICAL], 2)
    assert not pacing.batch_full([], 1)


def test_a_refused_mail_backs_off_1_2_4_up_to_30_seconds():
    assert [pacing.retry_delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_the_sender_backs_off_from_the_start_and_doubles_up_to_the_cap():
    waits, wait = [], 0.0
    for _ in range(7):
        wait = pacing.next_backoff(wait, 0.5, 10.0)
        waits.append(wait)
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
