"""The journal's hash chain on a real SQLite file: the ledger's writers seal every row,
a row edited, deleted or inserted with the sqlite3 module is named by `treasuryctl verify`,
the export carries recomputable links, and a backup taken while another connection
writes is a verified, 0600, never-overwriting copy."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from common.clock import FakeClock
from tests.support.treasury_core import T0, accept, decide, incoming, make_policy, open_ledger
from treasury_bot import ctl, freeze, journal_chain, journal_export, lifecycle
from treasury_bot.alerts import events
from treasury_bot.quorum import SignedAction
from tests.integration.treasury_bot.test_ctl import restore_logging  # noqa: F401 - the autouse fixture


@pytest.fixture
def path(tmp_path) -> Path:
    """A ledger with intents, decisions, transitions, alerts, a freeze and its lifting."""
    file = tmp_path / "ledger.sqlite"
    ledger = open_ledger(file)
    policy, clock = make_policy(), FakeClock(T0)
    try:
        record = accept(ledger, policy, clock, "i-1")
        decide(ledger, policy, clock, incoming("i-2", "999999", created_at=clock.now_ms()))
        with ledger.transaction():
            ledger.set_status(record, lifecycle.SUBMITTING, T0 + 1, lifecycle.EXECUTOR)
            ledger.enqueue(events.journal_broken(at_ms=T0 + 2, table="t", row=1, detail="sample"))
        freeze.freeze(ledger, by="alice", reason="drill", now=T0 + 3)
        freeze.unfreeze(ledger, by="bob", note="done", now=T0 + 4)
        with ledger.transaction():   # item 3's rows (their signatures are checked before this)
            ledger.insert_operator_action(SignedAction(action="approve", subject="i-2", operator="alice",
                                                       signed_at=T0 + 5, nonce="n-1", signature="c2ln"),
                                          T0 + 5, "local", "counted")
            ledger.release_loosening("limits.window_hours", T0, T0 + 6, "alice, bob")
        accept(ledger, policy, clock, "i-3")
    finally:
        ledger.close()
    return file


def raw(file: Path, *sql: str) -> None:
    conn = sqlite3.connect(str(file), isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = ctl.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_kind_of_row_the_ledger_writes_is_sealed_and_the_chain_verifies(path, capsys):
    """Intents, decisions, transitions, alerts, freezes, unfreezes and operator actions each get
    links; verify exits 0 with the head."""
    conn = sqlite3.connect(str(path))
    tables = {t for (t,) in conn.execute("SELECT DISTINCT tbl FROM journal_chain")}
    head = conn.execute("SELECT seq, hash FROM journal_chain ORDER BY seq DESC LIMIT 1").fetchone()
    conn.close()
    assert tables == set(journal_chain.TABLES)
    code, out, _ = run(capsys, "verify", "--ledger", str(path))
    assert code == 0 and f"head {head[0]}:{head[1]}" in out


@pytest.mark.parametrize("sql, kind, table", [
    ("UPDATE intents SET amount = '1' WHERE intent_id = 'i-1'", "edited", "intents"),
    ("UPDATE decisions SET outcome = 'accepted' WHERE seq = 2", "edited", "decisions"),
    ("UPDATE alert_outbox SET facts = '{}' WHERE seq = 1", "edited", "alert_outbox"),
    ("UPDATE freezes SET unfrozen_by = 'mallory'", "edited", "unfreezes"),
    ("UPDATE operator_actions SET operator = 'mallory'", "edited", "operator_actions"),
    ("DELETE FROM transitions WHERE seq = 2", "deleted", "transitions"),
    ("INSERT INTO decisions(intent_seq, decided_at, decided_by, outcome, reason_code, detail)"
     " VALUES (2, 1, 'operator', 'accepted', NULL, '')", "inserted", "decisions"),
    ("DELETE FROM journal_chain WHERE seq = 3", "deleted", None),
])
def test_a_row_changed_with_sqlite_directly_is_named_by_verify(path, capsys, sql, kind, table):
    """An edit, a deletion or an insertion outside the ledger exits 1 naming the kind and the table."""
    raw(path, sql)
    code, out, err = run(capsys, "verify", "--ledger", str(path))
    assert code == 1
    assert f"{kind}: {table} row" in err if table else f"{kind}: link 3" in err
    assert "last good head" in out


def test_an_unmailed_rewrite_of_the_tail_is_caught_by_a_mailed_anchor(path, capsys):
    """A chain re-hashed after an edit verifies, but the head mailed before no longer matches."""
    code, out, _ = run(capsys, "verify", "--ledger", str(path))
    mailed = out.split("head ")[1].strip()
    conn = sqlite3.connect(str(path), isolation_level=None)
    seq = int(mailed.split(":")[0])
    conn.execute("UPDATE journal_chain SET hash = ? WHERE seq = ?", ("f" * 64, seq))
    conn.close()
    assert run(capsys, "verify", "--ledger", str(path), "--anchor", mailed)[0] == 1


def test_an_old_ledger_without_a_chain_is_a_clear_failure(tmp_path, capsys):
    """A file with no journal_chain table (or no file) exits 1 saying so, and is not changed."""
    file = tmp_path / "plain.sqlite"
    raw(file, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    code, _, err = run(capsys, "verify", "--ledger", str(file))
    assert code == 1 and "no journal chain" in err
    assert run(capsys, "verify", "--ledger", str(tmp_path / "none.sqlite"))[0] == 1


def test_the_jsonl_export_carries_links_an_auditor_can_recompute(path, capsys):
    """Each exported record's hash is SHA-256 over chain_prev and the body of its fields, in chain order."""
    code, out, _ = run(capsys, "export", "--ledger", str(path), "--since", "0", "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["record"] for r in records} == set(journal_chain.TABLES)
    assert [r["chain_seq"] for r in records] == sorted(r["chain_seq"] for r in records)
    for r in records:
        values = journal_export.values_of(r["fields"])
        assert journal_chain.link_hash(r["chain_prev"], r["chain_seq"], r["record"], r["key"], values) == r["chain_hash"]
    intent = next(r for r in records if r["record"] == "intents")
    assert set(intent) == set(journal_export.COLUMNS) and "status" in intent["state"]


def test_the_csv_export_has_the_same_columns_and_since_filters(path, tmp_path, capsys):
    """CSV: a header of the documented columns; --since after every row exports only the header."""
    out_file = tmp_path / "audit.csv"
    assert run(capsys, "export", "--ledger", str(path), "--since", "0", "--format", "csv", "--out", str(out_file))[0] == 0
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert rows and tuple(rows[0]) == journal_export.COLUMNS
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert run(capsys, "export", "--ledger", str(path), "--since", "0", "--format", "csv", "--out", str(out_file))[0] == 1
    code, out, _ = run(capsys, "export", "--ledger", str(path), "--since", "2100-01-01", "--format", "csv")
    assert code == 0 and out.splitlines() == [",".join(journal_export.COLUMNS)]


def test_a_backup_while_another_connection_writes_is_verified_0600_and_never_overwrites(path, tmp_path, capsys):
    """The online backup copies a consistent snapshot while the ledger is written, checks it, and refuses an existing file."""
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        ledger = open_ledger(path)
        clock = FakeClock(T0 + 10)
        policy = make_policy()
        try:
            n = 0
            while not stop.is_set() and n < 400:
                n += 1
                decide(ledger, policy, clock, incoming(f"w-{n}", "1", created_at=clock.now_ms()))
                written.append(n)
        finally:
            ledger.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        from tests.support.waiting import wait_until
        wait_until(lambda: len(written) >= 20, what="the writer under way")
        copy = tmp_path / "backup.sqlite"
        code, out, err = run(capsys, "backup", "--ledger", str(path), str(copy))
    finally:
        stop.set()
        thread.join(30)
    assert code == 0, err
    assert "integrity ok" in out and "chain intact" in out
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert run(capsys, "verify", "--ledger", str(copy))[0] == 0
    before = copy.read_bytes()
    code, _, err = run(capsys, "backup", "--ledger", str(path), str(copy))
    assert code == 1 and "never overwrites" in err and copy.read_bytes() == before
    assert run(capsys, "verify", "--ledger", str(path))[0] == 0  # the writer's links are whole too


def test_a_backup_of_a_broken_chain_fails_and_leaves_no_copy(path, tmp_path, capsys):
    """A source whose chain is broken gives no backup file: exit 1 naming the break."""
    raw(path, "UPDATE decisions SET detail = 'x' WHERE seq = 1")
    copy = tmp_path / "b.sqlite"
    code, _, err = run(capsys, "backup", "--ledger", str(path), str(copy))
    assert code == 1 and "edited: decisions row 1" in err and not copy.exists()


def test_chain_row_seals_a_row_in_its_transaction_and_refuses_misuse(path):
    """chain_row (the seam for other tables) appends one link; outside a transaction or for an unknown table it raises."""
    from treasury_bot.ledger import LedgerError
    ledger = open_ledger(path)
    try:
        before = ledger.chain_head()
        with pytest.raises(LedgerError):
            ledger.chain_row("decisions", 1)  # no transaction: the head could race
        with pytest.raises(LedgerError), ledger.transaction():
            ledger.chain_row("no_such_table", 1)
        with pytest.raises(LedgerError), ledger.transaction():
            ledger.chain_row("decisions", 10_000)  # no such row
        assert ledger.chain_head() == before
        with ledger.transaction():
            seq = ledger.insert_freeze(T0 + 9, "carol", None, "second drill")
        assert ledger.chain_head().seq == before.seq + 1 and ledger.verify_chain().intact
        assert ledger.chain_hashes("freezes")[seq][0] == before.seq + 1
    finally:
        ledger.close()
