"""No configured secret or full API key in any log line, mail, exception text or ledger row.

The first tests prove the scanner finds what it must (so the last one cannot pass by
looking nowhere); the last test, moved to the very end of the run by conftest.py, scans
everything the whole suite produced.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.security.secret_scan import (IGNORE_MARKER, Secret, ScanReport, scan_folder, scan_run,
                                        secrets_in_env_file, secrets_in_folder, secrets_in_sandbox_config,
                                        secrets_in_sources)

PLANTED = "planted-secret-not-real-7777"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """These tests plant secrets on purpose: the end-of-run scan skips their folders."""
    (tmp_path / IGNORE_MARKER).touch()
    return tmp_path


def run_folder(tmp_path: Path) -> tuple[Path, Path]:
    """A fake basetemp with one test folder that configured PLANTED in its env file."""
    base = tmp_path / "basetemp"
    folder = base / "some_test0"
    folder.mkdir(parents=True)
    (folder / "bot.env").write_text(f"SIGNAL_WEBHOOK_SECRET={PLANTED}\nSIGNAL_CONFIG_FILE=signal.toml\n")
    return base, folder


def test_env_files_sandbox_configs_and_sources_give_the_secrets_the_tests_configure(tmp_path):
    """Secrets come from env variables named *_SECRET/_PASSWORD/_API_KEY, sandbox keys and
    the test sources' fake literals; paths and wrong-on-purpose values are not secrets."""
    env = tmp_path / "x.env"
    env.write_text("TREASURY_API_KEY=key-value-not-real-01\nTREASURY_API_SECRET='sec-value-not-real-02'\n"
                   "TREASURY_CURVE_SECRET_FILE=keys/treasury.key_secret\nSMTP_PASSWORD=short\n")
    assert {s.value for s in secrets_in_env_file(env)} == {"key-value-not-real-01", "sec-value-not-real-02"}
    demo = {s.value for s in secrets_in_sandbox_config(REPO / "sandbox" / "demo.toml")}
    assert len(demo) == 6 and all("not-real" in v or "-key-" in v for v in demo)
    literals = {s.value for s in secrets_in_sources([REPO / "tests" / "support"])}
    assert "test-secret-not-real-0002" in literals
    assert not any(s.value.startswith("wrong-") for s in secrets_in_sources([REPO / "tests"]))


def test_a_secret_in_a_log_file_is_found_and_reported_masked(tmp_path):
    """A configured secret in a process log is a finding; the report never shows it whole."""
    base, folder = run_folder(tmp_path)
    (folder / "bot.log").write_text(f"ts=1 level=info event=webhook passphrase={PLANTED}\n")
    report = scan_run(base, [])
    assert [f.where for f in report.findings] == [str(folder / "bot.log")]
    text = report.findings[0].describe()
    assert PLANTED not in text and "<SECRET>" in text and "plan...7777" in text


def test_input_files_are_not_findings_but_everything_else_is_scanned(tmp_path):
    """Env files, key files and TOML hold secrets by design; a clean log is no finding."""
    base, folder = run_folder(tmp_path)
    (folder / "sandbox.toml").write_text(f'[[key]]\nname = "x"\napi_secret = "{PLANTED}"\n')
    (folder / "bot.log").write_text("ts=1 level=info event=started api_key=plan...7777\n")
    report = scan_run(base, [])
    assert report.findings == [] and report.files == 1


def test_secrets_in_ledger_text_and_blob_columns_and_in_an_unmerged_wal_are_found(tmp_path):
    """Every text and blob column of every table, read through SQLite with its WAL."""
    base, folder = run_folder(tmp_path)
    db = folder / "ledger.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (a TEXT, b BLOB, c INTEGER)")
    conn.execute("INSERT INTO t VALUES ('clean', ?, 1)", (b"\x81\xa1x" + PLANTED.encode(),))
    conn.execute("INSERT INTO t VALUES (?, NULL, 2)", (f"detail: {PLANTED}",))
    conn.execute("CREATE TABLE w (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
    conn.execute("INSERT INTO w VALUES ('k', ?)", (PLANTED,))
    conn.commit()
    assert (folder / "ledger.sqlite-wal").stat().st_size > 0
    report = scan_run(base, [])
    conn.close()
    where = sorted(f.where for f in report.findings)
    assert f"{db} t.a row #2" in where and f"{db} t.b row #1" in where
    assert f"{db} w.v row #1" in where
    assert f"{db}-wal" in where
    assert report.databases == 1 and report.rows == 3 and report.unreadable == []


def test_captured_output_and_mails_are_scanned_for_every_secret_of_the_run(tmp_path):
    """A folder scanned `everywhere` is checked against secrets configured in any folder."""
    base, _ = run_folder(tmp_path)
    capture = base / "secret-scan-capture"
    (capture / "mails").mkdir(parents=True)
    (capture / "mails" / "000001.eml").write_bytes(b"Subject: x\r\n\r\nbody " + PLANTED.encode() + b"\r\n")
    report = scan_run(base, [], everywhere=[capture])
    assert [f.where for f in report.findings] == [str(capture / "mails" / "000001.eml")]


def test_a_test_folder_is_scanned_with_its_own_and_the_shared_secrets(tmp_path):
    """Shared secrets (demo keys, literals) are looked for in every folder."""
    report = ScanReport()
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "a.log").write_text("signature ok, key demo-shared-key-not-real-123 used\n")
    scan_folder(folder, [Secret("demo-shared-key-not-real-123", "test")], report)
    assert len(report.findings) == 1 and secrets_in_folder(folder) == []


def test_a_pem_private_keys_body_is_a_secret_looked_for_in_logs_and_the_file_itself_is_not_a_finding(tmp_path):
    """An Ed25519 API key file (`keys binance`) configures a secret: its body in a log is a
    finding; the .pem file and a public key beside it are not."""
    from common.api_key_files import write_ed25519_key_pair
    base, folder = run_folder(tmp_path)
    written = write_ed25519_key_pair(folder / "keys")
    body = "".join(written.private_file.read_text().splitlines()[1:-1])
    assert [s.value for s in secrets_in_folder(folder / "keys")] == [body]
    (folder / "treasury.log").write_text(f"ts=1 level=error detail={body}\n")
    report = scan_run(base, [])
    assert [f.where for f in report.findings] == [str(folder / "treasury.log")]


def test_a_folder_marked_to_be_ignored_is_skipped(tmp_path):
    """Only the scanner's own tests use the marker; it hides its whole folder."""
    base, folder = run_folder(tmp_path)
    (folder / "bot.log").write_text(PLANTED)
    (folder / IGNORE_MARKER).touch()
    assert scan_run(base, []).findings == []


def test_no_configured_secret_in_any_log_mail_exception_or_ledger_row(secret_scan_plugin):
    """Runs last: everything the whole run produced (process logs, ledgers and state files,
    SMTP sink mails, captured output and failure texts) holds no configured secret."""
    report = secret_scan_plugin.scan()
    secret_scan_plugin.findings_seen = len(report.findings)
    print(report.summary())
    if report.files == 0:
        pytest.skip("this run produced nothing to scan (run it with the suites that start processes)")
    assert report.secrets >= 6, report.summary()
    assert not report.findings, "\n".join([report.summary()] + [f.describe() for f in report.findings[:50]])
    assert not report.unreadable, report.unreadable
