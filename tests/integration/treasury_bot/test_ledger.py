"""The ledger on a real SQLite file: schema, pragmas, transactions, the optimistic status
check, the read helpers, and two connections on one file (treasuryctl beside the bot)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from tests.support.ledger_peek import peek
from tests.support.treasury_core import T0, count, open_ledger
from treasury_bot.ledger import SCHEMA_VERSION, Ledger, LedgerError, LedgerSchemaNewer


def row(seq: int, intent_id: str, *, status: str = "queued", counted_at: int | None = T0,
        received_at: int = T0, client: str = "signal", amount: str = "100", destination: str = "cold-wallet",
        outcome: str = "accepted") -> tuple:
    return (seq, intent_id, client, "USDT", "TRX", destination, amount, "sweep", T0, b"raw", received_at,
            outcome, None, "", status, received_at, "TADDR", None, counted_at)


def add(ledger: Ledger, *rows: tuple) -> None:
    with ledger.transaction():
        ledger.insert_intents(rows)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def test_opening_twice_keeps_rows_and_the_schema_version(tmp_path):
    """A reopen of a current ledger migrates nothing and loses nothing."""
    first = open_ledger(tmp_path / "l.sqlite")
    add(first, row(1, "a"))
    first.close()
    again = open_ledger(tmp_path / "l.sqlite")
    assert again.get_intent("a").seq == 1
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert count(again, "meta", "key = 'schema_version'") == 1
    again.close()


def test_a_ledger_from_a_newer_program_is_refused(tmp_path):
    """A schema version above ours stops the open rather than misreading the file."""
    first = open_ledger(tmp_path / "l.sqlite")
    with first.transaction():
        first.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    first.close()
    with pytest.raises(LedgerSchemaNewer, match="newer") as refused:
        open_ledger(tmp_path / "l.sqlite")
    assert refused.value.code == "ledger_schema_newer" and isinstance(refused.value, LedgerError)


def test_wal_and_full_sync_are_actually_set(ledger, tmp_path):
    """journal_mode is WAL (persistent in the file), synchronous FULL, foreign keys and a busy timeout on."""
    # White-box: these settings are per connection, visible only on the Ledger's own.
    own = ledger._conn
    assert own.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert own.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert own.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert own.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    plain = sqlite3.connect(tmp_path / "ledger.sqlite")
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


def test_the_alert_outbox_tables_are_created_with_the_ledger(ledger):
    """The outbox's DDL is part of the ledger's schema (no extra schema to pass)."""
    names = {r[0] for r in peek(ledger, "SELECT name FROM sqlite_master")}
    assert {"intents", "decisions", "transitions", "withdrawals", "refused_requests", "policy_starts",
            "destinations_seen", "coin_rules", "alert_outbox", "alert_mails", "alert_delivery"} <= names


def test_an_exception_in_a_transaction_leaves_nothing(ledger):
    """Everything written in the block is rolled back and the exception propagates."""
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            ledger.insert_intents([row(1, "a")])
            ledger.insert_decisions([(1, T0, "policy", "accepted", None, "")])
            ledger.set_meta("x", "y")
            raise RuntimeError("crash mid-decision")
    assert count(ledger, "intents") == 0 and count(ledger, "decisions") == 0
    assert ledger.get_meta("x") is None
    assert not ledger.in_transaction
    add(ledger, row(1, "a"))  # and the ledger is usable again
    assert ledger.get_intent("a") is not None


def test_a_nested_transaction_is_refused_and_the_outer_one_rolls_back(ledger):
    """Nesting is a bug: LedgerError, nothing of the outer block kept, the ledger usable after."""
    with pytest.raises(LedgerError, match="nested"):
        with ledger.transaction():
            ledger.insert_intents([row(1, "a")])
            with ledger.transaction():
                pass
    assert count(ledger, "intents") == 0
    with ledger.transaction():
        pass


def test_next_intent_seq_is_reset_after_a_rollback(ledger):
    """A seq reserved by a rolled-back batch is handed out again, not skipped or reused wrongly."""
    add(ledger, row(1, "a"))
    with pytest.raises(RuntimeError):
        with ledger.transaction():
            seq = ledger.next_intent_seq()
            assert seq == 2
            ledger.insert_intents([row(seq, "b"), row(seq + 1, "c")])
            assert ledger.next_intent_seq() == 4
            raise RuntimeError
    with ledger.transaction():
        assert ledger.next_intent_seq() == 2
        ledger.insert_intents([row(2, "d")])
    assert ledger.next_intent_seq() == 3


def test_next_intent_seq_follows_inserts_without_rereading(ledger):
    """After insert_intents, the next seq is one past the last row inserted."""
    with ledger.transaction():
        assert ledger.next_intent_seq() == 1
        ledger.insert_intents([row(1, "a"), row(2, "b")])
        assert ledger.next_intent_seq() == 3
        ledger.insert_intents([])
        assert ledger.next_intent_seq() == 3


def test_an_intent_id_is_unique_for_ever(ledger):
    """A second row with the same intent_id is refused by the database itself."""
    add(ledger, row(1, "a"))
    with pytest.raises(sqlite3.IntegrityError):
        add(ledger, row(2, "a"))


def test_set_status_moves_and_journals_the_transition(ledger):
    """A status change updates the intent and appends a transition with from, to, source, note."""
    add(ledger, row(1, "a"))
    record = ledger.get_intent("a")
    with ledger.transaction():
        ledger.set_status(record, "submitting", T0 + 5, "executor", "attempt 1")
    assert ledger.get_intent("a").status == "submitting"
    assert ledger.get_intent("a").updated_at == T0 + 5
    assert ledger.transitions_of(record) == [(T0 + 5, "queued", "submitting", "executor", "attempt 1")]


def test_set_status_refuses_a_stale_from_status(ledger):
    """The optimistic check: a record read before another writer moved it cannot move it again."""
    add(ledger, row(1, "a"))
    stale = ledger.get_intent("a")
    with ledger.transaction():
        ledger.set_status(stale, "submitting", T0, "executor")
    with pytest.raises(LedgerError, match="no longer queued"):
        with ledger.transaction():
            ledger.set_status(stale, "failed", T0, "executor")
    assert ledger.get_intent("a").status == "submitting"
    assert count(ledger, "transitions") == 1


def test_set_outcome_rewrites_the_outcome_and_appends_a_decision(ledger):
    """An operator's decision changes the intent's outcome and is journaled beside the first."""
    add(ledger, row(1, "a", status="pending_approval", outcome="pending_approval"))
    with ledger.transaction():
        ledger.insert_decisions([(1, T0, "policy", "pending_approval", "approval_required", "big")])
        ledger.set_outcome(ledger.get_intent("a"), "accepted", None, "ok", T0 + 1, "operator")
    record = ledger.get_intent("a")
    assert (record.outcome, record.reason_code, record.detail) == ("accepted", None, "ok")
    assert [d[1:3] for d in ledger.decisions_of(record)] == [("policy", "pending_approval"),
                                                              ("operator", "accepted")]


def test_transitions_after_honours_until_skip_source_and_limit(ledger):
    """(seq, until] in order, leaving out one source, joined with the withdrawal's ids."""
    add(ledger, row(1, "a"), row(2, "b"))
    a, b = ledger.get_intent("a"), ledger.get_intent("b")
    with ledger.transaction():
        ledger.insert_transitions([(1, T0, None, "queued", "decider", ""), (2, T0, None, "queued", "decider", "")])
        ledger.set_status(a, "submitting", T0 + 1, "executor")
        ledger.update_withdrawal(1, withdrawal_id="w-1", tx_id="tx-1")
        ledger.set_status(ledger.get_intent("a"), "submitted", T0 + 2, "executor")
        ledger.set_status(b, "failed", T0 + 3, "executor")
    every = ledger.transitions_after(0)
    assert [(t.seq, t.intent_id, t.to_status) for t in every] == [
        (1, "a", "queued"), (2, "b", "queued"), (3, "a", "submitting"), (4, "a", "submitted"), (5, "b", "failed")]
    assert every[3].withdrawal_id == "w-1" and every[3].tx_id == "tx-1" and every[4].withdrawal_id is None
    assert [t.seq for t in ledger.transitions_after(0, skip_source="decider")] == [3, 4, 5]
    assert [t.seq for t in ledger.transitions_after(2, until=4)] == [3, 4]
    assert [t.seq for t in ledger.transitions_after(0, limit=2)] == [1, 2]
    assert ledger.transitions_after(5) == []
    assert ledger.last_transition_seq() == 5


def test_counted_since_returns_counted_rows_from_the_edge_on(ledger):
    """Rows with counted_at >= since are returned; uncounted rows (NULL) never are."""
    add(ledger, row(1, "old", counted_at=T0 - 1), row(2, "edge", counted_at=T0), row(3, "new", counted_at=T0 + 1),
        row(4, "denied", counted_at=None, status="denied", outcome="rejected"))
    assert sorted(r.intent_id for r in ledger.counted_since(T0)) == ["edge", "new"]
    with ledger.transaction():
        ledger.uncount(ledger.get_intent("edge"))
    found = ledger.counted_since(0)
    assert sorted(r.intent_id for r in found) == ["new", "old"]
    assert {r.intent_id: (r.amount, r.status) for r in found}["new"] == ("100", "queued")


def test_open_withdrawals_are_those_the_exchange_knows_and_not_finished(ledger):
    """submitted/email_sent/awaiting_approval/processing with a withdrawal row; nothing else."""
    names = ["queued", "submitting", "submitted", "email_sent", "awaiting_approval", "processing",
             "completed", "failed", "needs_review", "pending_approval"]
    add(ledger, *[row(i + 1, name, status=name) for i, name in enumerate(names)])
    with ledger.transaction():
        for i, name in enumerate(names):
            if name != "processing":  # processing without a withdrawal row is left out
                ledger.update_withdrawal(i + 1, withdrawal_id=f"w-{name}")
    found = ledger.open_withdrawals()
    assert [(r.intent_id, w.withdrawal_id) for r, w in found] == [
        ("submitted", "w-submitted"), ("email_sent", "w-email_sent"), ("awaiting_approval", "w-awaiting_approval")]


def test_intents_with_status_never_returns_a_terminal_one(ledger):
    """Even when asked for a terminal status, the open-intents helper returns only open ones, by seq."""
    add(ledger, row(1, "q1"), row(2, "done", status="completed"), row(3, "q2"))
    assert [r.intent_id for r in ledger.intents_with_status(["queued", "completed"])] == ["q1", "q2"]
    assert [r.intent_id for r in ledger.intents_with_status(["queued"], limit=1)] == ["q1"]


def test_list_intents_filters_and_keeps_the_newest(ledger):
    """status and since filter; limit keeps the newest, listed oldest first."""
    add(ledger, *[row(i, f"i{i}", received_at=T0 + i, status="queued" if i % 2 else "denied",
                      outcome="accepted" if i % 2 else "rejected") for i in range(1, 7)])
    assert [r.intent_id for r in ledger.list_intents()] == [f"i{i}" for i in range(1, 7)]
    assert [r.intent_id for r in ledger.list_intents(status="denied")] == ["i2", "i4", "i6"]
    assert [r.intent_id for r in ledger.list_intents(since_ms=T0 + 4)] == ["i4", "i5", "i6"]
    assert [r.intent_id for r in ledger.list_intents(limit=2)] == ["i5", "i6"]
    assert [r.intent_id for r in ledger.list_intents(status="queued", since_ms=T0 + 2, limit=1)] == ["i5"]


def test_find_intents_reads_many_ids_in_chunks(ledger):
    """More ids than one IN list holds are all found; unknown ids are simply absent."""
    add(ledger, *[row(i, f"id-{i}") for i in range(1, 1201)])
    wanted = [f"id-{i}" for i in range(1, 1201)] + ["missing", "id-5"]
    found = ledger.find_intents(wanted)
    assert len(found) == 1200 and found["id-1200"].seq == 1200
    assert ledger.find_intents(["missing"]) == {}
    assert ledger.get_intent_by_seq(7).intent_id == "id-7" and ledger.get_intent_by_seq(9999) is None


def test_update_withdrawal_creates_the_row_and_refuses_unknown_columns(ledger):
    """The first update creates the row with defaults; a misspelled column is an error."""
    add(ledger, row(1, "a"))
    with ledger.transaction():
        ledger.update_withdrawal(1)
        assert ledger.withdrawal(1).attempts == 0 and ledger.withdrawal(1).stuck_alerted is False
        ledger.update_withdrawal(1, attempts=2, stuck_alerted=1, error_code="-4026")
        with pytest.raises(LedgerError, match="withdrawl_id"):
            ledger.update_withdrawal(1, withdrawl_id="x")
    saved = ledger.withdrawal(1)
    assert (saved.attempts, saved.stuck_alerted, saved.error_code) == (2, True, "-4026")
    assert ledger.withdrawal(2) is None
    assert ledger.get_intent("a").withdrawal_id is None


def test_destinations_seen_upsert_keeps_the_first_sighting(ledger):
    """A re-pointed label keeps first_seen_at and moves changed_at and the address."""
    with ledger.transaction():
        ledger.upsert_destination_seen("cold", "USDT", "TRX", "TA", None, T0, T0)
        ledger.upsert_destination_seen("cold", "USDT", "TRX", "TB", "7", T0 + 50, T0 + 50)
    assert ledger.destinations_seen() == {"cold": ("USDT", "TRX", "TB", "7", T0, T0 + 50)}


def test_coin_rules_snapshot_round_trips_and_is_replaced(ledger):
    """One snapshot, JSON in and out; saving again replaces it."""
    assert ledger.load_coin_rules() is None
    with ledger.transaction():
        ledger.save_coin_rules([{"coin": "USDT", "withdraw_min": "10"}], T0)
        ledger.save_coin_rules([{"coin": "BTC"}], T0 + 1)
    assert ledger.load_coin_rules() == (T0 + 1, [{"coin": "BTC"}])
    assert count(ledger, "coin_rules") == 1


def test_policy_starts_and_meta(ledger):
    """The last policy hash is the latest start's; meta values are upserted."""
    assert ledger.last_policy_hash() is None
    with ledger.transaction():
        ledger.record_policy_start("aa", "/p", T0)
        ledger.record_policy_start("bb", "/p", T0 + 1)
        ledger.set_meta("last_poll_at", "1")
        ledger.set_meta("last_poll_at", "2")
    assert ledger.last_policy_hash() == "bb" and ledger.get_meta("last_poll_at") == "2"


def test_a_writer_commits_while_another_connection_holds_a_read(tmp_path):
    """WAL: treasuryctl can write while the bot reads; the reader keeps its snapshot until it ends."""
    bot = open_ledger(tmp_path / "l.sqlite")
    ctl = open_ledger(tmp_path / "l.sqlite")
    add(bot, row(1, "a"))
    reader = sqlite3.connect(f"file:{tmp_path / 'l.sqlite'}?mode=ro", uri=True, isolation_level=None)
    status = "SELECT status FROM intents WHERE intent_id = 'a'"
    reader.execute("BEGIN")
    assert reader.execute(status).fetchone()[0] == "queued"  # the read snapshot starts here
    with ctl.transaction():
        ctl.set_status(ctl.get_intent("a"), "submitting", T0, "executor")
    assert reader.execute(status).fetchone()[0] == "queued"
    assert bot.get_intent("a").status == "submitting"  # a connection outside the snapshot sees it
    reader.execute("COMMIT")
    assert reader.execute(status).fetchone()[0] == "submitting"
    reader.close()
    bot.close()
    ctl.close()


def test_a_second_writer_waits_for_the_first_instead_of_failing(tmp_path):
    """BEGIN IMMEDIATE on a second connection waits (busy timeout) and then sees the first's commit."""
    first = open_ledger(tmp_path / "l.sqlite")
    add(first, row(1, "a"))
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        other = open_ledger(tmp_path / "l.sqlite")
        with other.transaction():
            other.set_status(other.get_intent("a"), "submitting", T0, "executor")
            entered.set()
            release.wait(5)
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert entered.wait(5)
    threading.Timer(0.2, release.set).start()
    started = time.monotonic()
    with first.transaction():
        record = first.get_intent("a")  # read under the write lock: the other's commit is visible
        assert record.status == "submitting"
        first.set_status(record, "submitted", T0 + 1, "executor")
    assert time.monotonic() - started >= 0.1
    thread.join(5)
    assert first.get_intent("a").status == "submitted"
    first.close()


def test_queued_waits_answer_the_stall_check_for_every_queued_intent_in_one_query(ledger):
    """First time queued (not the latest re-queue), the last apply error, and whether the
    stall was already alerted; terminal and pending intents are not listed."""
    add(ledger, row(1, "requeued", received_at=T0), row(2, "alerted", received_at=T0 + 1),
        row(3, "done", status="completed"), row(4, "waiting-approval", status="pending_approval"),
        row(5, "never-journaled", received_at=T0 + 2))
    with ledger.transaction():
        ledger.insert_transitions([(1, T0, None, "queued", "decider", ""), (2, T0 + 1, None, "queued", "decider", "")])
        ledger.set_status(ledger.get_intent("requeued"), "submitting", T0 + 10, "executor")
        ledger.set_status(ledger.get_intent("requeued"), "queued", T0 + 20, "executor", "never left")
        ledger.update_withdrawal(1, error_code="-1", error_message="no route")
        assert ledger.record_stall(2, T0 + 30, "not sent yet")
        assert not ledger.record_stall(2, T0 + 40, "again")  # once, for ever
    waits = ledger.queued_waits()
    assert [(w.intent_id, w.queued_since, w.error_code, w.error_message, w.stall_alerted) for w in waits] == [
        ("requeued", T0, "-1", "no route", False),
        ("alerted", T0 + 1, None, None, True),
        ("never-journaled", T0 + 2, None, None, False)]  # no queued transition: its updated_at
    assert [(s.intent_id, s.alerted_at, s.reason) for s in ledger.open_stalls()] == [
        ("alerted", T0 + 30, "not sent yet")]
    assert [w.seq for w in ledger.queued_waits(limit=1)] == [1]


def test_the_intent_count_and_the_latest_apply_attempt(ledger):
    """treasuryctl check's count, and the spacing the executor keeps across a restart."""
    assert (ledger.intent_count(), ledger.latest_apply_attempt_at()) == (0, None)
    add(ledger, row(1, "a"), row(2, "b"))
    with ledger.transaction():
        ledger.update_withdrawal(1, last_attempt_at=T0 + 5)
        ledger.update_withdrawal(2, last_attempt_at=T0 + 3)
    assert (ledger.intent_count(), ledger.latest_apply_attempt_at()) == (2, T0 + 5)
