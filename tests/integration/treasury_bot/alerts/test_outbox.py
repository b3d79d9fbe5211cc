"""The alert outbox in a real ledger file, used the way the treasury and the sender use it
(`ledger.enqueue`, `ledger.outbox.*`, inside `ledger.transaction()`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.alert_samples import AT_MS, every_kind, transfer
from tests.support.ledger_peek import peek, peek_one
from treasury_bot.alerts import ctl, events, model, render
from treasury_bot.ledger import Ledger, OutboxCounts, OutboxError


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    opened = Ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def rejection(i: int, at_ms: int = AT_MS) -> model.Alert:
    return events.intent_rejected(transfer(f"rej-{i}", "20"), at_ms=at_ms + i, reason_code="over_window_limit")


def enqueue_committed(ledger: Ledger, *alerts: model.Alert) -> list[int]:
    with ledger.transaction():
        return [ledger.enqueue(alert) for alert in alerts]


def test_a_second_open_keeps_the_outbox_rows(tmp_path):
    """The outbox is part of the ledger's schema: reopening changes nothing and keeps the rows."""
    path = tmp_path / "ledger.sqlite"
    first = Ledger(path)
    enqueue_committed(first, rejection(1))
    first.close()
    again = Ledger(path)
    assert len(again.outbox.unsent(10)) == 1
    again.close()


def test_enqueue_outside_a_transaction_is_refused_and_writes_nothing(ledger):
    """An alert must share the fate of the change that raised it."""
    with pytest.raises(OutboxError) as caught:
        ledger.enqueue(rejection(1))
    assert caught.value.code == "no_transaction"
    assert peek_one(ledger, "SELECT COUNT(*) FROM alert_outbox") == 0


def test_an_alert_rolled_back_with_its_change_is_gone(ledger):
    """Enqueue never commits: the caller's rollback takes the alert with it."""
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            ledger.enqueue(rejection(1))
            assert ledger.in_transaction
            raise RuntimeError("the change failed")
    assert ledger.outbox.unsent(10) == []


def test_enqueue_neither_begins_nor_commits(ledger, tmp_path):
    """Another connection sees nothing until the caller commits."""
    other = Ledger(tmp_path / "ledger.sqlite")
    with ledger.transaction():
        ledger.enqueue(rejection(1))
        assert ledger.in_transaction
        assert other.outbox.unsent(10) == []
    assert len(other.outbox.unsent(10)) == 1
    other.close()


def test_every_kind_round_trips_through_the_outbox_unchanged(ledger):
    """What the treasury raised is exactly what the sender reads back."""
    alerts = list(every_kind().values())
    seqs = enqueue_committed(ledger, *alerts)
    assert seqs == sorted(seqs)
    read = ledger.outbox.unsent(100)
    assert [item.seq for item in read] == seqs
    assert [item.alert for item in read] == alerts


def test_a_flood_cannot_hide_a_critical_alert_from_the_sender(ledger):
    """Unsent alerts are read per severity, so a CRITICAL one behind 50 warnings is seen."""
    enqueue_committed(ledger, *[rejection(i) for i in range(50)], every_kind()[model.NEEDS_REVIEW])
    read = ledger.outbox.unsent(10)
    assert [i.alert.kind for i in read].count(model.NEEDS_REVIEW) == 1
    assert len(read) == 11


def test_the_unsent_query_reads_the_partial_index(ledger):
    """The sender's poll is a range of the 'unplanned' index, not a scan of all alerts."""
    plan = peek(ledger, "EXPLAIN QUERY PLAN SELECT seq FROM alert_outbox WHERE severity = 'WARNING'"
                " AND mail_id IS NULL AND logged_at_ms IS NULL ORDER BY seq LIMIT 10")
    assert "alert_outbox_unplanned" in " ".join(str(row) for row in plan)


def make_mail(ledger, seqs, kind=model.INTENT_REJECTED, severity=model.WARNING, now=AT_MS + 1000,
              message_id="<1.treasury-alert@example.com>"):
    with ledger.transaction():
        mail_id = ledger.outbox.create_mail(kind=kind, severity=severity, seqs=seqs, message_id=message_id,
                                            recipients=("a@example.com", "b@example.com"), now_ms=now)
    return ledger.outbox.get_mail(mail_id)


def test_a_mail_takes_its_alerts_out_of_the_unsent_queue_until_it_is_sent(ledger):
    """sending -> (server accepted) -> sent, with every alert of the mail marked."""
    seqs = enqueue_committed(ledger, rejection(1), rejection(2), rejection(3))
    mail = make_mail(ledger, seqs[:2])
    assert (mail.state, mail.alert_count, mail.recipients) == ("sending", 2, ("a@example.com", "b@example.com"))
    assert [i.seq for i in ledger.outbox.unsent(10)] == [seqs[2]]
    assert ledger.outbox.sending_mails() == [mail]
    assert [i.seq for i in ledger.outbox.mail_alerts(mail.mail_id)] == seqs[:2]
    assert ledger.outbox.counts() == OutboxCounts(unsent=3, sending_mails=1)

    assert mail.subject is None  # rendered when sent
    with ledger.transaction():
        ledger.outbox.mark_mail_sent(mail.mail_id, AT_MS + 2000, "[treasury][WARNING] 2 rejected intents")
    assert ledger.outbox.sending_mails() == []
    sent = ledger.outbox.get_mail(mail.mail_id)
    assert (sent.state, sent.sent_at_ms, sent.attempts) == ("sent", AT_MS + 2000, 1)
    assert sent.subject == "[treasury][WARNING] 2 rejected intents"
    rows = peek(ledger, "SELECT seq, state, sent_at_ms, channel FROM alert_delivery ORDER BY seq")
    assert rows == [(seqs[0], "sent", AT_MS + 2000, "smtp"), (seqs[1], "sent", AT_MS + 2000, "smtp"),
                    (seqs[2], "unsent", None, None)]
    assert ledger.outbox.counts() == OutboxCounts(unsent=1, sending_mails=0)


def test_a_failed_attempt_is_counted_and_the_mail_stays_sending(ledger):
    """Nothing is marked sent on failure; the error is kept for the operator."""
    seqs = enqueue_committed(ledger, rejection(1))
    mail = make_mail(ledger, seqs)
    with ledger.transaction():
        ledger.outbox.note_mail_failure(mail.mail_id, "ConnectionRefusedError: [Errno 111]")
    again = ledger.outbox.get_mail(mail.mail_id)
    assert (again.state, again.attempts, again.last_error) == ("sending", 1, "ConnectionRefusedError: [Errno 111]")
    assert peek(ledger, "SELECT state, sent_at_ms FROM alert_delivery")[0] == ("sending", None)


def test_an_alert_can_be_in_only_one_mail(ledger):
    """A second mail claiming an alert already taken is refused, and rolled back whole."""
    seqs = enqueue_committed(ledger, rejection(1), rejection(2))
    make_mail(ledger, seqs[:1])
    with pytest.raises(OutboxError) as caught:
        make_mail(ledger, seqs, message_id="<2.treasury-alert@example.com>")
    assert caught.value.code == "outbox_contended"
    assert len(ledger.outbox.sending_mails()) == 1
    assert [i.seq for i in ledger.outbox.unsent(10)] == [seqs[1]]


def test_last_mail_times_are_per_kind_and_severity(ledger):
    """The digest planner's memory: the latest mail of each (kind, severity)."""
    seqs = enqueue_committed(ledger, rejection(1), rejection(2), every_kind()[model.APPROVAL_NEEDED])
    make_mail(ledger, seqs[:1], now=AT_MS + 10)
    make_mail(ledger, seqs[1:2], now=AT_MS + 20, message_id="<2@x>")
    make_mail(ledger, seqs[2:], kind=model.APPROVAL_NEEDED, now=AT_MS + 5, message_id="<3@x>")
    keys = [(model.INTENT_REJECTED, model.WARNING), (model.APPROVAL_NEEDED, model.WARNING),
            (model.INTENT_REJECTED, model.INFO)]
    assert ledger.outbox.last_mail_times(keys) == {
        (model.INTENT_REJECTED, model.WARNING): AT_MS + 20, (model.APPROVAL_NEEDED, model.WARNING): AT_MS + 5}


def test_logged_alerts_are_marked_sent_on_the_log_channel(ledger):
    """Without SMTP an alert is done once logged, and never mailed later."""
    seqs = enqueue_committed(ledger, rejection(1), rejection(2))
    with ledger.transaction():
        ledger.outbox.mark_logged(seqs, AT_MS + 1)
    assert ledger.outbox.unsent(10) == []
    assert peek(ledger, "SELECT DISTINCT state, channel, mail_id, sent_at_ms FROM alert_delivery") == [
        ("sent", "log", None, AT_MS + 1)]


def test_the_listing_shows_newest_first_or_unsent_oldest_first(ledger):
    """`treasuryctl alerts list [--unsent]`."""
    seqs = enqueue_committed(ledger, rejection(1), rejection(2), rejection(3), rejection(4))
    sent = make_mail(ledger, seqs[:1])
    with ledger.transaction():
        ledger.outbox.mark_mail_sent(sent.mail_id, AT_MS + 5)
    make_mail(ledger, seqs[1:2], message_id="<2@x>")
    assert [r.seq for r in ledger.outbox.listing(limit=3)] == [seqs[3], seqs[2], seqs[1]]
    unsent = ledger.outbox.listing(unsent_only=True)
    assert [(r.seq, r.mail_state) for r in unsent] == [(seqs[1], "sending"), (seqs[2], None), (seqs[3], None)]
    lines = ctl.outbox_lines(ledger, unsent_only=True)
    assert lines[0].startswith("alert outbox: unsent alerts, oldest first")
    assert "intent_rejected" in lines[1] and "rej-2" in lines[1]
    assert lines[1].endswith("20 USDT to cold-wallet (over_window_limit)  [unsent, in mail 2 (sending)]")
    assert lines[-1] == "3 alert(s) unsent, 1 mail(s) waiting for the server"
    everything = ctl.outbox_lines(ledger)
    assert any("sent 2023-11-14T22:13:20.005Z via smtp (mail 1)" in line for line in everything)


def test_the_listing_of_an_empty_outbox_says_so(ledger):
    """No rows is said, not shown as silence."""
    assert ctl.outbox_lines(ledger) == ["alert outbox: latest alerts, newest first (at most 50)", "  (none)",
                                      "0 alert(s) unsent, 0 mail(s) waiting for the server"]


def test_the_tables_refuse_values_outside_their_contract(ledger):
    """CHECK constraints and the foreign key: a bad severity or mail link never gets in."""
    raw = sqlite3.connect(str(ledger.path), isolation_level=None)  # the DDL's own guards, past the Ledger
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO alert_outbox (created_at_ms, kind, severity, facts) VALUES (1, 'x', 'LOUD', '{}')")
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO alert_outbox (created_at_ms, kind, severity, facts, mail_id)"
                    " VALUES (1, 'x', 'INFO', '{}', 999)")  # no such mail (foreign key)
    raw.execute("ROLLBACK")
    raw.close()


def test_pending_reads_only_what_the_planner_needs_per_severity(ledger):
    """Seq, kind, severity, time: no facts to parse, so a flood is cheap to plan."""
    seqs = enqueue_committed(ledger, rejection(1), every_kind()[model.NEEDS_REVIEW], rejection(2))
    assert ledger.outbox.pending(10) == [
        model.PendingAlert(seqs[0], model.INTENT_REJECTED, model.WARNING, AT_MS + 1),
        model.PendingAlert(seqs[1], model.NEEDS_REVIEW, model.CRITICAL, AT_MS),
        model.PendingAlert(seqs[2], model.INTENT_REJECTED, model.WARNING, AT_MS + 2)]
    assert [p.seq for p in ledger.outbox.pending(1)] == seqs[:2]


def test_a_big_digest_is_claimed_in_several_short_transactions(ledger):
    """claim_more adds alerts to a mail still sending and keeps its count right."""
    seqs = enqueue_committed(ledger, *[rejection(i) for i in range(10)])
    mail = make_mail(ledger, seqs[:4])
    for part in (seqs[4:7], seqs[7:]):
        with ledger.transaction():
            ledger.outbox.claim_more(mail.mail_id, part)
    assert ledger.outbox.get_mail(mail.mail_id).alert_count == 10
    assert [i.seq for i in ledger.outbox.mail_alerts(mail.mail_id)] == seqs
    assert ledger.outbox.pending(10) == []
    with pytest.raises(OutboxError):
        ledger.outbox.claim_more(mail.mail_id, seqs[:1])  # already in this mail


def test_mail_content_by_sql_says_what_rendering_the_alerts_in_memory_says(ledger):
    """The aggregates (count, first 50, last, span, top values with ties, distinct counts)
    match render.content_of over the same alerts, so a huge digest need not be loaded."""
    alerts = []
    for i in range(137):
        reason = ("over_window_limit", "unknown_destination", "stale_intent")[i % 3 if i < 90 else 0]
        alerts.append(events.intent_rejected(
            transfer(f"r-{i:03d}", "20", destination=f"dest-{i % 13}"), at_ms=AT_MS + (i * 7919) % 1000,
            reason_code=reason))
    seqs = enqueue_committed(ledger, *alerts)
    mail = make_mail(ledger, seqs)
    from_sql = ledger.outbox.mail_content(mail.mail_id, render.DIGEST_LIST_LIMIT)
    in_memory = render.content_of(alerts)
    assert from_sql == in_memory
    assert from_sql.distinct["destination"] == 13 and len(from_sql.breakdowns["destination"]) == 10
    assert render.body(from_sql, window_ms=60_000) == render.body(alerts, window_ms=60_000)


def test_mail_content_of_a_single_alert_is_that_alert(ledger):
    """One alert: no breakdowns, the alert itself first and last."""
    alert = every_kind()[model.WITHDRAWAL_FAILED]
    mail = make_mail(ledger, enqueue_committed(ledger, alert), kind=alert.kind, severity=alert.severity)
    content = ledger.outbox.mail_content(mail.mail_id, 50)
    assert content == render.content_of([alert])
    assert (content.count, content.first, content.last, content.breakdowns) == (1, alert, alert, {})
