"""A ledger file from every released program opens with today's Ledger: upgraded to the
current schema version in place, its rows kept and readable, a second open a no-op; a file
from a newer program is refused and left untouched.

The old files are built from the DDL those releases ran, copied verbatim
(tests/support/old_schemas.py)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.support import old_schemas
from tests.support.ledger_peek import peek, peek_one
from treasury_bot import lifecycle
from treasury_bot.ledger import (SCHEMA_VERSION, Ledger, LedgerError, LedgerSchemaNewer, LedgerSchemaUnknown,
                                 OpenStall, schema)

T0 = 1_700_000_000_000
ADDRESS = "TXYZ1234567890abcdefghijklmnopqrst"


def structure(path: Path) -> dict:
    """Every table's columns, every index's table, columns, uniqueness and partiality, and
    the views: what a migration must produce, whatever the DDL text's comments say."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        objects = conn.execute("SELECT type, name, tbl_name FROM sqlite_master"
                               " WHERE name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        found: dict = {"tables": {}, "indexes": {}, "views": set()}
        for kind, name, table in objects:
            if kind == "table":
                found["tables"][name] = conn.execute(f"PRAGMA table_info({name})").fetchall()
            elif kind == "view":
                found["views"].add(name)
        for table in found["tables"]:
            for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
                columns = [row[2] for row in conn.execute(f"PRAGMA index_info({name})")]
                found["indexes"][name] = (table, unique, origin, partial, columns)
    return found


def dump(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.iterdump())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_release_1_rows(conn: sqlite3.Connection) -> None:
    """A few rows of every table the first release had, as its code wrote them."""
    conn.execute("BEGIN IMMEDIATE")
    for seq, intent_id, status in ((1, "old-done", "completed"), (2, "old-queued", "queued")):
        conn.execute(
            "INSERT INTO intents(seq, intent_id, client, coin, network, destination, amount, reason, created_at,"
            " raw_request, received_at, outcome, reason_code, detail, status, updated_at, address, tag, counted_at)"
            " VALUES (?, ?, 'signal', 'USDT', 'TRX', 'cold-wallet', '100', 'sweep', ?, x'a1', ?, 'accepted',"
            " NULL, '', ?, ?, ?, NULL, ?)", (seq, intent_id, T0, T0, status, T0 + seq, ADDRESS, T0))
        conn.execute("INSERT INTO decisions(intent_seq, decided_at, decided_by, outcome, reason_code, detail)"
                     " VALUES (?, ?, 'policy', 'accepted', NULL, '')", (seq, T0))
        conn.execute("INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
                     " VALUES (?, ?, NULL, 'queued', 'decider', '')", (seq, T0))
    conn.execute("INSERT INTO transitions(intent_seq, at, from_status, to_status, source, note)"
                 " VALUES (1, ?, 'queued', 'completed', 'poller', '')", (T0 + 1,))
    conn.execute("INSERT INTO withdrawals(intent_seq, withdrawal_id, tx_id, exchange_status, attempts,"
                 " first_attempt_at, last_attempt_at, error_code, error_message)"
                 " VALUES (1, 'w-1', '0xabc', 6, 1, ?, ?, NULL, NULL)", (T0, T0))
    conn.execute("INSERT INTO withdrawals(intent_seq, attempts, last_attempt_at, error_code, error_message)"
                 " VALUES (2, 2, ?, '-4026', 'insufficient balance')", (T0 + 5,))
    conn.execute("INSERT INTO refused_requests(intent_id, client, raw_request, received_at, reason_code, detail)"
                 " VALUES ('old-done', 'other', x'b2', ?, 'intent_id_conflict', '')", (T0,))
    conn.execute("INSERT INTO policy_starts(started_at, sha256, path) VALUES (?, 'aa11', '/etc/policy.toml')", (T0,))
    conn.execute("INSERT INTO destinations_seen(label, coin, network, address, tag, first_seen_at, changed_at)"
                 " VALUES ('cold-wallet', 'USDT', 'TRX', ?, NULL, ?, ?)", (ADDRESS, T0, T0))
    conn.execute("INSERT INTO coin_rules(id, fetched_at, body) VALUES (1, ?, ?)", (T0, json.dumps({"USDT": 1})))
    conn.execute("INSERT INTO meta(key, value) VALUES ('last_poll_at', ?)", (str(T0),))
    conn.execute("INSERT INTO alert_mails(message_id, kind, severity, alert_count, state, recipients,"
                 " created_at_ms) VALUES ('<m1@example.com>', 'intent_rejected', 'WARNING', 1, 'sending',"
                 " 'ops@example.com', ?)", (T0,))
    conn.execute("INSERT INTO alert_outbox(created_at_ms, kind, severity, intent_id, facts, mail_id)"
                 " VALUES (?, 'intent_rejected', 'WARNING', 'x-1', '{\"reason_code\":\"stale_intent\"}', 1)", (T0,))
    conn.execute("INSERT INTO alert_outbox(created_at_ms, kind, severity, intent_id, facts)"
                 " VALUES (?, 'needs_review', 'CRITICAL', 'old-queued', '{}')", (T0 + 1,))
    conn.execute("COMMIT")


def add_release_2_rows(conn: sqlite3.Connection) -> None:
    """Rows of the tables the second release added."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO policy_in_force(id, recorded_at, body) VALUES (1, ?, '{\"v\":1}')", (T0,))
    conn.execute("INSERT INTO pending_loosenings(setting, old_value, new_value, first_seen_at, effective_at)"
                 " VALUES ('limits.max_transfers_per_hour', '20', '40', ?, ?)", (T0, T0 + 3_600_000))
    conn.execute("INSERT INTO withdrawal_exchange_times(intent_seq, first_exchange_ms) VALUES (2, ?)", (T0 + 7,))
    conn.execute("INSERT INTO withdrawal_stalls(intent_seq, alerted_at, reason) VALUES (2, ?, 'last error -4026')",
                 (T0 + 9,))
    conn.execute("COMMIT")


def old_ledger(path: Path, release: str) -> Path:
    conn = old_schemas.build(path, release)
    add_release_1_rows(conn)
    if release == "0d7d5d9":
        add_release_2_rows(conn)
    conn.close()
    return path


def assert_release_1_rows_readable(ledger: Ledger) -> None:
    done, queued = ledger.get_intent("old-done"), ledger.get_intent("old-queued")
    assert (done.status, done.withdrawal_id, done.tx_id, done.address) == ("completed", "w-1", "0xabc", ADDRESS)
    assert queued.status == "queued" and ledger.intent_count() == 2
    assert [row[2] for row in ledger.transitions_of(done)] == ["queued", "completed"]
    assert ledger.decisions_of(queued)[0][1:3] == ("policy", "accepted")
    assert ledger.withdrawal(2).error_code == "-4026" and ledger.latest_apply_attempt_at() == T0 + 5
    assert ledger.refused_requests() == [("old-done", "other", "intent_id_conflict")]
    assert ledger.last_policy_hash() == "aa11"
    assert ledger.destinations_seen()["cold-wallet"][2] == ADDRESS
    assert ledger.load_coin_rules() == (T0, {"USDT": 1})
    assert ledger.get_meta("last_poll_at") == str(T0)
    assert [m.message_id for m in ledger.outbox.sending_mails()] == ["<m1@example.com>"]
    assert [item.alert.kind for item in ledger.outbox.unsent(10)] == ["needs_review"]
    assert ledger.outbox.counts().unsent == 2
    assert [w.seq for w in ledger.queued_waits()] == [2]


@pytest.mark.parametrize("release", sorted(old_schemas.RELEASES))
def test_a_released_ledger_is_upgraded_to_the_current_schema_with_its_rows(tmp_path, release):
    """Version found 1, version now current; the same tables, columns, indexes and views
    as a new ledger; every row still there and read through the Ledger."""
    path = old_ledger(tmp_path / "old.sqlite", release)
    ledger = Ledger(path)
    try:
        assert (ledger.found_schema_version, ledger.schema_version) == (1, SCHEMA_VERSION)
        assert_release_1_rows_readable(ledger)
        if release == "0d7d5d9":
            assert ledger.policy_in_force() == '{"v":1}'
            assert ledger.pending_loosenings()[0][:3] == ("limits.max_transfers_per_hour", "20", "40")
            assert ledger.first_exchange_ms(2) == T0 + 7
            assert ledger.open_stalls() == [OpenStall("old-queued", T0 + 9, "last error -4026")]
        else:  # the tables the migration added work
            with ledger.transaction():
                assert ledger.record_stall(2, T0 + 9, "halted")
                ledger.record_first_exchange_ms(2, T0 + 7)
            assert ledger.open_stalls() == [OpenStall("old-queued", T0 + 9, "halted")]
            assert ledger.first_exchange_ms(2) == T0 + 7 and ledger.policy_in_force() is None
    finally:
        ledger.close()
    fresh = Ledger(tmp_path / "fresh.sqlite")
    fresh.close()
    assert structure(path) == structure(tmp_path / "fresh.sqlite")
    assert peek(path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(SCHEMA_VERSION),)]


@pytest.mark.parametrize("release", sorted(old_schemas.RELEASES))
def test_opening_an_upgraded_ledger_again_changes_nothing(tmp_path, release):
    """The second open finds the current version and writes nothing."""
    path = old_ledger(tmp_path / "old.sqlite", release)
    Ledger(path).close()
    before = dump(path)
    again = Ledger(path)
    try:
        assert again.found_schema_version == SCHEMA_VERSION
        assert_release_1_rows_readable(again)
    finally:
        again.close()
    assert dump(path) == before


def test_a_new_ledger_is_created_at_the_current_version(tmp_path):
    """A new file gets every table at once and says so: found 0, now current."""
    ledger = Ledger(tmp_path / "new.sqlite")
    try:
        assert (ledger.found_schema_version, ledger.schema_version) == (0, SCHEMA_VERSION)
    finally:
        ledger.close()
    assert {"withdrawal_stalls", "policy_in_force", "alert_outbox"} <= set(structure(tmp_path / "new.sqlite")["tables"])


def test_a_ledger_from_a_newer_program_is_refused_and_left_untouched(tmp_path):
    """A version above ours: a typed error before anything is written, the file byte for byte
    as it was."""
    path = tmp_path / "newer.sqlite"
    Ledger(path).close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.execute("CREATE TABLE from_the_future (x INTEGER)")
    conn.close()
    before, rows = digest(path), dump(path)
    with pytest.raises(LedgerSchemaNewer) as refused:
        Ledger(path)
    assert refused.value.code == "ledger_schema_newer" and isinstance(refused.value, LedgerError)
    assert digest(path) == before and dump(path) == rows


def test_a_file_with_tables_but_no_version_is_refused(tmp_path):
    """Not a ledger this program wrote: refused rather than guessed at."""
    path = tmp_path / "stranger.sqlite"
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE intents (x INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerSchemaUnknown):
        Ledger(path)
    assert peek(path, "SELECT name FROM sqlite_master") == [("intents",)]


def test_a_migration_that_fails_leaves_the_file_at_its_old_version(tmp_path, monkeypatch):
    """A migration and its version bump are one transaction: a failure halfway keeps none of it."""
    path = old_ledger(tmp_path / "old.sqlite", "4f44e7a")
    broken = (schema.MIGRATIONS[0][0], "CREATE TABLE intents (x INTEGER)")  # the second fails
    monkeypatch.setattr(schema, "MIGRATIONS", (broken,))
    with pytest.raises(sqlite3.OperationalError):
        Ledger(path)
    assert peek_one(path, "SELECT value FROM meta WHERE key = 'schema_version'") == "1"
    assert peek(path, "SELECT name FROM sqlite_master WHERE name = 'policy_in_force'") == []
    monkeypatch.undo()
    Ledger(path).close()  # and the real migration still runs
    assert peek_one(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)


def test_the_open_only_clause_is_the_lifecycle_terminal_set_and_uses_the_status_index(tmp_path):
    """The partial index `intents_open` serves the open-intent queries only if their clause
    repeats its expression; that expression must leave out exactly the terminal statuses."""
    assert frozenset(schema.TERMINAL_IN_INDEX) == lifecycle.TERMINAL
    Ledger(tmp_path / "l.sqlite").close()
    plan = peek(tmp_path / "l.sqlite", "EXPLAIN QUERY PLAN SELECT i.seq FROM intents i WHERE i.status = ?"
                f" AND {schema.OPEN_ONLY}", lifecycle.QUEUED)
    assert "intents_open" in " ".join(str(row) for row in plan)


def test_threads_opening_an_old_ledger_at_once_migrate_it_once(tmp_path):
    """The treasury's threads each open their own Ledger at start: each migration step
    re-reads the version under the write lock, so every opener succeeds and the file ends
    at the current version with its rows."""
    path = old_ledger(tmp_path / "old.sqlite", "4f44e7a")
    start, found, errors = threading.Barrier(4), [], []

    def open_it() -> None:
        start.wait(5)
        try:
            ledger = Ledger(path)
            found.append(ledger.found_schema_version)
            ledger.close()
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(found) == 4
    assert found.count(1) == 1  # exactly one opener found version 1 under the lock, and migrated
    ledger = Ledger(path)
    try:
        assert ledger.schema_version == SCHEMA_VERSION
        assert_release_1_rows_readable(ledger)
    finally:
        ledger.close()


def test_an_upgrade_is_logged_with_both_versions(tmp_path, caplog):
    """The operator sees that the file was migrated, from which version to which."""
    path = old_ledger(tmp_path / "old.sqlite", "0d7d5d9")
    with caplog.at_level("WARNING", logger="treasury.ledger"):
        Ledger(path).close()
        Ledger(path).close()  # the second open has nothing to say
    upgraded = [r for r in caplog.records if r.getMessage() == "ledger_schema_upgraded"]
    assert len(upgraded) == 1
    assert (upgraded[0].fields["from_version"], upgraded[0].fields["to_version"]) == (1, SCHEMA_VERSION)


@pytest.mark.parametrize("release", sorted(old_schemas.RELEASES))
def test_an_upgraded_ledger_has_a_chain_over_its_existing_rows_that_verifies(tmp_path, release):
    """The migration to schema 3 seals every old row, table by table in key order; new rows extend it."""
    path = old_ledger(tmp_path / "old.sqlite", release)
    ledger = Ledger(path)
    try:
        verdict = ledger.verify_chain()
        old_rows = sum(peek_one(path, f"SELECT COUNT(*) FROM {t}") for t in ("intents", "decisions", "transitions",
                                                                             "alert_outbox"))
        assert verdict.intact and verdict.links == old_rows > 0
        tables = [t for (t,) in peek(path, "SELECT tbl FROM journal_chain ORDER BY seq")]
        assert tables == sorted(tables, key=["intents", "decisions", "transitions", "alert_outbox"].index)
        with ledger.transaction():
            ledger.set_status(ledger.get_intent("old-queued"), lifecycle.SUBMITTING, T0 + 20, lifecycle.EXECUTOR)
        assert ledger.verify_chain().links == old_rows + 1
    finally:
        ledger.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("UPDATE intents SET destination = 'attacker' WHERE intent_id = 'old-done'")
    conn.close()
    reopened = Ledger(path)
    try:
        broken = reopened.verify_chain().broken
        assert (broken.kind, broken.table, broken.row) == ("edited", "intents", 1)
    finally:
        reopened.close()


def backups_of(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.v*-backup-*"))


@pytest.mark.parametrize("release", sorted(old_schemas.RELEASES))
def test_an_upgrade_first_takes_a_verified_0600_backup_beside_the_ledger(tmp_path, release):
    """Issue 16 item 4: the copy is named after the version it holds, owner-only, and holds
    the old file's rows at the old version; the ledger itself is upgraded."""
    path = old_ledger(tmp_path / "ledger.sqlite", release)
    before = dump(path)
    ledger = Ledger(path)
    try:
        assert ledger.upgrade_backup is not None and ledger.upgrade_backup.name.startswith("ledger.sqlite.v1-backup-")
    finally:
        ledger.close()
    [copy] = backups_of(path)
    assert copy == ledger.upgrade_backup and (copy.stat().st_mode & 0o777) == 0o600
    assert dump(copy) == before and peek_one(copy, "SELECT value FROM meta WHERE key = 'schema_version'") == "1"
    assert peek_one(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)


def test_the_previous_schema_of_todays_main_is_upgraded_after_its_backup(tmp_path):
    """A file stamped 2 (issue 10's layout as main wrote it before issue 13): backed up as
    v2, then migrated to the current version with its rows, sealed into the chain."""
    path = old_ledger(tmp_path / "ledger.sqlite", "0d7d5d9")
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    ledger = Ledger(path)
    try:
        assert (ledger.found_schema_version, ledger.schema_version) == (2, SCHEMA_VERSION)
        assert_release_1_rows_readable(ledger)
        assert ledger.policy_in_force() == '{"v":1}'
    finally:
        ledger.close()
    [copy] = backups_of(path)
    assert copy.name.startswith("ledger.sqlite.v2-backup-")
    assert peek_one(copy, "SELECT value FROM meta WHERE key = 'schema_version'") == "2"
    from treasury_bot.ledger.chain import verify_file
    assert verify_file(path).intact


def test_a_current_or_new_ledger_takes_no_backup(tmp_path):
    """Only a migration is preceded by a copy: a new file and a current one get none."""
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    again = Ledger(path)
    assert again.upgrade_backup is None
    again.close()
    assert backups_of(path) == []


def test_a_backup_that_cannot_be_written_stops_the_migration(tmp_path, monkeypatch):
    """No verified copy, no migration: the open fails and the file stays at its version."""
    from treasury_bot.ledger import chain
    path = old_ledger(tmp_path / "ledger.sqlite", "4f44e7a")

    def fails(source, target, **kw):
        raise chain.ChainFileError("backup_corrupt", "the copy fails integrity_check")
    monkeypatch.setattr(chain, "backup", fails)
    with pytest.raises(chain.ChainFileError):
        Ledger(path)
    assert peek_one(path, "SELECT value FROM meta WHERE key = 'schema_version'") == "1"
