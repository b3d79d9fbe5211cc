"""The outbox tables in a real SQLite file, used the way the ledger and the sender use them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.support.alert_samples import AT_MS, every_kind, transfer
from treasury_bot.alerts import ctl, events, model, render, store
from treasury_bot.alerts.store import OUTBOX_SCHEMA, OutboxError


def ledger_like(path: Path) -> sqlite3.Connection:
    """A connection configured like the ledger's, with the DDL run the ledger's way:
    split on ';', one statement at a time, inside BEGIN IMMEDIATE."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("BEGIN IMMEDIATE")
    for statement in [s.strip() for s in OUTBOX_SCHEMA.split(";") if s.strip()]:
        conn.execute(statement)
    conn.execute("COMMIT")
    return conn


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = ledger_like(tmp_path / "ledger.sqlite")
    yield connection
    connection.close()


def rejection(i: int, at_ms: int = AT_MS) -> model.Alert:
    return events.intent_rejected(transfer(f"rej-{i}", "20"), at_ms=at_ms + i, reason_code="over_window_limit")


def enqueue_committed(conn: sqlite3.Connection, *alerts: model.Alert) -> list[int]:
    conn.execute("BEGIN IMMEDIATE")
    seqs = [store.enqueue(conn, alert) for alert in alerts]
    conn.execute("COMMIT")
    return seqs


def test_the_schema_can_be_run_again_at_every_open(tmp_path):
    """CREATE ... IF NOT EXISTS: a second open changes nothing and keeps the rows."""
    path = tmp_path / "ledger.sqlite"
    first = ledger_like(path)
    enqueue_committed(first, rejection(1))
    first.close()
    again = ledger_like(path)
    assert len(store.unsent(again, 10)) == 1
    store.create_schema(again)  # the sender's own way, also idempotent
    assert store.OUTBOX_STATEMENTS == tuple(s.strip() for s in OUTBOX_SCHEMA.split(";") if s.strip())


def test_enqueue_outside_a_transaction_is_refused_and_writes_nothing(conn):
    """An alert must share the fate of the change that raised it."""
    with pytest.raises(OutboxError) as caught:
        store.enqueue(conn, rejection(1))
    assert caught.value.code == "no_transaction"
    assert conn.execute("SELECT COUNT(*) FROM alert_outbox").fetchone()[0] == 0


def test_an_alert_rolled_back_with_its_change_is_gone(conn):
    """Enqueue never commits: the caller's rollback takes the alert with it."""
    conn.execute("BEGIN IMMEDIATE")
    store.enqueue(conn, rejection(1))
    assert conn.in_transaction
    conn.execute("ROLLBACK")
    assert store.unsent(conn, 10) == []


def test_enqueue_neither_begins_nor_commits(conn, tmp_path):
    """Another connection sees nothing until the caller commits."""
    other = sqlite3.connect(str(tmp_path / "ledger.sqlite"), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    store.enqueue(conn, rejection(1))
    assert conn.in_transaction
    assert store.unsent(other, 10) == []
    conn.execute("COMMIT")
    assert len(store.unsent(other, 10)) == 1
    other.close()


def test_every_kind_round_trips_through_the_outbox_unchanged(conn):
    """What the treasury raised is exactly what the sender reads back."""
    alerts = list(every_kind().values())
    seqs = enqueue_committed(conn, *alerts)
    assert seqs == sorted(seqs)
    read = store.unsent(conn, 100)
    assert [item.seq for item in read] == seqs
    assert [item.alert for item in read] == alerts


def test_a_flood_cannot_hide_a_critical_alert_from_the_sender(conn):
    """Unsent alerts are read per severity, so a CRITICAL one behind 50 warnings is seen."""
    enqueue_committed(conn, *[rejection(i) for i in range(50)], every_kind()[model.NEEDS_REVIEW])
    read = store.unsent(conn, 10)
    assert [i.alert.kind for i in read].count(model.NEEDS_REVIEW) == 1
    assert len(read) == 11


def test_the_unsent_query_reads_the_partial_index(conn):
    """The sender's poll is a range of the 'unplanned' index, not a scan of all alerts."""
    plan = conn.execute("EXPLAIN QUERY PLAN SELECT seq FROM alert_outbox WHERE severity = 'WARNING'"
                        " AND mail_id IS NULL AND logged_at_ms IS NULL ORDER BY seq LIMIT 10").fetchall()
    assert "alert_outbox_unplanned" in " ".join(str(row) for row in plan)


def make_mail(conn, seqs, kind=model.INTENT_REJECTED, severity=model.WARNING, now=AT_MS + 1000,
              message_id="<1.treasury-alert@example.com>"):
    conn.execute("BEGIN IMMEDIATE")
    try:
        mail_id = store.create_mail(conn, kind=kind, severity=severity, seqs=seqs, message_id=message_id,
                                    recipients=("a@example.com", "b@example.com"), now_ms=now)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return store.get_mail(conn, mail_id)


def test_a_mail_takes_its_alerts_out_of_the_unsent_queue_until_it_is_sent(conn):
    """sending -> (server accepted) -> sent, with every alert of the mail marked."""
    seqs = enqueue_committed(conn, rejection(1), rejection(2), rejection(3))
    mail = make_mail(conn, seqs[:2])
    assert (mail.state, mail.alert_count, mail.recipients) == ("sending", 2, ("a@example.com", "b@example.com"))
    assert [i.seq for i in store.unsent(conn, 10)] == [seqs[2]]
    assert store.sending_mails(conn) == [mail]
    assert [i.seq for i in store.mail_alerts(conn, mail.mail_id)] == seqs[:2]
    assert store.counts(conn) == store.OutboxCounts(unsent=3, sending_mails=1)

    assert mail.subject is None  # rendered when sent
    conn.execute("BEGIN IMMEDIATE")
    store.mark_mail_sent(conn, mail.mail_id, AT_MS + 2000, "[treasury][WARNING] 2 rejected intents")
    conn.execute("COMMIT")
    assert store.sending_mails(conn) == []
    sent = store.get_mail(conn, mail.mail_id)
    assert (sent.state, sent.sent_at_ms, sent.attempts) == ("sent", AT_MS + 2000, 1)
    assert sent.subject == "[treasury][WARNING] 2 rejected intents"
    rows = conn.execute("SELECT seq, state, sent_at_ms, channel FROM alert_delivery ORDER BY seq").fetchall()
    assert rows == [(seqs[0], "sent", AT_MS + 2000, "smtp"), (seqs[1], "sent", AT_MS + 2000, "smtp"),
                    (seqs[2], "unsent", None, None)]
    assert store.counts(conn) == store.OutboxCounts(unsent=1, sending_mails=0)


def test_a_failed_attempt_is_counted_and_the_mail_stays_sending(conn):
    """Nothing is marked sent on failure; the error is kept for the operator."""
    seqs = enqueue_committed(conn, rejection(1))
    mail = make_mail(conn, seqs)
    conn.execute("BEGIN IMMEDIATE")
    store.note_mail_failure(conn, mail.mail_id, "ConnectionRefusedError: [Errno 111]")
    conn.execute("COMMIT")
    again = store.get_mail(conn, mail.mail_id)
    assert (again.state, again.attempts, again.last_error) == ("sending", 1, "ConnectionRefusedError: [Errno 111]")
    assert conn.execute("SELECT state, sent_at_ms FROM alert_delivery").fetchone() == ("sending", None)


def test_an_alert_can_be_in_only_one_mail(conn):
    """A second mail claiming an alert already taken is refused, and rolled back whole."""
    seqs = enqueue_committed(conn, rejection(1), rejection(2))
    make_mail(conn, seqs[:1])
    with pytest.raises(OutboxError) as caught:
        make_mail(conn, seqs, message_id="<2.treasury-alert@example.com>")
    assert caught.value.code == "outbox_contended"
    assert len(store.sending_mails(conn)) == 1
    assert [i.seq for i in store.unsent(conn, 10)] == [seqs[1]]


def test_last_mail_times_are_per_kind_and_severity(conn):
    """The digest planner's memory: the latest mail of each (kind, severity)."""
    seqs = enqueue_committed(conn, rejection(1), rejection(2), every_kind()[model.APPROVAL_NEEDED])
    make_mail(conn, seqs[:1], now=AT_MS + 10)
    make_mail(conn, seqs[1:2], now=AT_MS + 20, message_id="<2@x>")
    make_mail(conn, seqs[2:], kind=model.APPROVAL_NEEDED, now=AT_MS + 5, message_id="<3@x>")
    keys = [(model.INTENT_REJECTED, model.WARNING), (model.APPROVAL_NEEDED, model.WARNING),
            (model.INTENT_REJECTED, model.INFO)]
    assert store.last_mail_times(conn, keys) == {
        (model.INTENT_REJECTED, model.WARNING): AT_MS + 20, (model.APPROVAL_NEEDED, model.WARNING): AT_MS + 5}


def test_logged_alerts_are_marked_sent_on_the_log_channel(conn):
    """Without SMTP an alert is done once logged, and never mailed later."""
    seqs = enqueue_committed(conn, rejection(1), rejection(2))
    conn.execute("BEGIN IMMEDIATE")
    store.mark_logged(conn, seqs, AT_MS + 1)
    conn.execute("COMMIT")
    assert store.unsent(conn, 10) == []
    assert conn.execute("SELECT DISTINCT state, channel, mail_id, sent_at_ms FROM alert_delivery").fetchall() == [
        ("sent", "log", None, AT_MS + 1)]


def test_the_listing_shows_newest_first_or_unsent_oldest_first(conn):
    """`treasuryctl alerts list [--unsent]`."""
    seqs = enqueue_committed(conn, rejection(1), rejection(2), rejection(3), rejection(4))
    sent = make_mail(conn, seqs[:1])
    conn.execute("BEGIN IMMEDIATE")
    store.mark_mail_sent(conn, sent.mail_id, AT_MS + 5)
    conn.execute("COMMIT")
    make_mail(conn, seqs[1:2], message_id="<2@x>")
    assert [r.seq for r in store.listing(conn, limit=3)] == [seqs[3], seqs[2], seqs[1]]
    unsent = store.listing(conn, unsent_only=True)
    assert [(r.seq, r.mail_state) for r in unsent] == [(seqs[1], "sending"), (seqs[2], None), (seqs[3], None)]
    lines = ctl.outbox_lines(conn, unsent_only=True)
    assert lines[0].startswith("alert outbox: unsent alerts, oldest first")
    assert "intent_rejected" in lines[1] and "rej-2" in lines[1]
    assert lines[1].endswith("20 USDT to cold-wallet (over_window_limit)  [unsent, in mail 2 (sending)]")
    assert lines[-1] == "3 alert(s) unsent, 1 mail(s) waiting for the server"
    everything = ctl.outbox_lines(conn)
    assert any("sent 2023-11-14T22:13:20.005Z via smtp (mail 1)" in line for line in everything)


def test_the_listing_of_an_empty_outbox_says_so(conn):
    """No rows is said, not shown as silence."""
    assert ctl.outbox_lines(conn) == ["alert outbox: latest alerts, newest first (at most 50)", "  (none)",
                                      "0 alert(s) unsent, 0 mail(s) waiting for the server"]


def test_the_tables_refuse_values_outside_their_contract(conn):
    """CHECK constraints and the foreign key: a bad severity or mail link never gets in."""
    conn.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO alert_outbox (created_at_ms, kind, severity, facts) VALUES (1, 'x', 'LOUD', '{}')")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO alert_outbox (created_at_ms, kind, severity, facts, mail_id)"
                     " VALUES (1, 'x', 'INFO', '{}', 999)")  # no such mail (foreign key)
    conn.execute("ROLLBACK")


def test_pending_reads_only_what_the_planner_needs_per_severity(conn):
    """Seq, kind, severity, time: no facts to parse, so a flood is cheap to plan."""
    seqs = enqueue_committed(conn, rejection(1), every_kind()[model.NEEDS_REVIEW], rejection(2))
    assert store.pending(conn, 10) == [
        model.PendingAlert(seqs[0], model.INTENT_REJECTED, model.WARNING, AT_MS + 1),
        model.PendingAlert(seqs[1], model.NEEDS_REVIEW, model.CRITICAL, AT_MS),
        model.PendingAlert(seqs[2], model.INTENT_REJECTED, model.WARNING, AT_MS + 2)]
    assert [p.seq for p in store.pending(conn, 1)] == seqs[:2]


def test_a_big_digest_is_claimed_in_several_short_transactions(conn):
    """claim_more adds alerts to a mail still sending and keeps its count right."""
    seqs = enqueue_committed(conn, *[rejection(i) for i in range(10)])
    mail = make_mail(conn, seqs[:4])
    for part in (seqs[4:7], seqs[7:]):
        conn.execute("BEGIN IMMEDIATE")
        store.claim_more(conn, mail.mail_id, part)
        conn.execute("COMMIT")
    assert store.get_mail(conn, mail.mail_id).alert_count == 10
    assert [i.seq for i in store.mail_alerts(conn, mail.mail_id)] == seqs
    assert store.pending(conn, 10) == []
    with pytest.raises(OutboxError):
        store.claim_more(conn, mail.mail_id, seqs[:1])  # already in this mail


def test_mail_content_by_sql_says_what_rendering_the_alerts_in_memory_says(conn):
    """The aggregates (count, first 50, last, span, top values with ties, distinct counts)
    match render.content_of over the same alerts, so a huge digest need not be loaded."""
    alerts = []
    for i in range(137):
        reason = ("over_window_limit", "unknown_destination", "stale_intent")[i % 3 if i < 90 else 0]
        alerts.append(events.intent_rejected(
            transfer(f"r-{i:03d}", "20", destination=f"dest-{i % 13}"), at_ms=AT_MS + (i * 7919) % 1000,
            reason_code=reason))
    seqs = enqueue_committed(conn, *alerts)
    mail = make_mail(conn, seqs)
    from_sql = store.mail_content(conn, mail.mail_id, render.DIGEST_LIST_LIMIT)
    in_memory = render.content_of(alerts)
    assert from_sql == in_memory
    assert from_sql.distinct["destination"] == 13 and len(from_sql.breakdowns["destination"]) == 10
    assert render.body(from_sql, window_ms=60_000) == render.body(alerts, window_ms=60_000)


def test_mail_content_of_a_single_alert_is_that_alert(conn):
    """One alert: no breakdowns, the alert itself first and last."""
    alert = every_kind()[model.WITHDRAWAL_FAILED]
    mail = make_mail(conn, enqueue_committed(conn, alert), kind=alert.kind, severity=alert.severity)
    content = store.mail_content(conn, mail.mail_id, 50)
    assert content == render.content_of([alert])
    assert (content.count, content.first, content.last, content.breakdowns) == (1, alert, alert, {})
