"""Find configured secrets in what a test run produced: logs, ledgers, mails, captured output.

DESIGN section 6 and CONTRIBUTING: no secret, and no full API key, ever appears in a log
line, a mail, an exception text or a ledger row. This module is the check, run at the
end of the whole suite (tests/security/conftest.py orders it last).

Secrets are collected from what the tests configured, never guessed:
- sandbox/demo.toml and every sandbox config under the run's folder: each key's
  `api_key` and `api_secret`;
- every env file (`*.env`) under the run's folder: the values of variables whose names
  end in `_SECRET`, `_PASSWORD`, `_API_KEY` or `_PASSPHRASE`;
- every CURVE secret certificate (`*.key_secret`): its secret key;
- every PEM private key (`*.pem` holding `PRIVATE KEY`, the Ed25519 API keys of
  `keys binance`): its base64 body;
- SMTP sink passwords and values the test process registered with `register_secret`
  (passed in by the plugin);
- obviously fake literals in the test sources that follow CONTRIBUTING's naming
  (`...-not-real...`), except those that are wrong on purpose (`wrong-...`).
Values shorter than MIN_LENGTH are ignored (too short to find without false alarms).

What is scanned (everything under the run's folder except the configuration inputs,
which hold secrets by design: `*.env`, `*.key_secret`, `*.pem`, `*.toml`, `*.alert` (a
webhook body a user writes for `signal-bot test-signal`, with its passphrase), and `*.key`
certificates, which a test may fill with a secret key on purpose to see it refused):
every other file's raw bytes (process
logs, state files, SQLite files and their WAL, so deleted rows and free pages count
too), and each SQLite database's rows, every text and blob column. A secret is looked
for in its own test folder's outputs (a test's keys never reach another test's
processes) and, for values the whole run shares (demo keys, source literals, registered
values), in every output; captured output and mails are scanned for all of them.
Findings name where and which secret (its origin and masked value), never the value.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

MIN_LENGTH = 8
# A folder holding this file is skipped whole: the scanner's own tests plant secrets on purpose.
IGNORE_MARKER = ".secret-scan-ignore"
INPUT_SUFFIXES = frozenset({".env", ".key_secret", ".key", ".pem", ".toml", ".alert"})
SECRET_ENV_NAME = re.compile(r"(_SECRET|_PASSWORD|_API_KEY|_PASSPHRASE)\Z")
SOURCE_LITERAL = re.compile(rb"""["']([A-Za-z0-9_.-]*-not-real[A-Za-z0-9_.-]*)["']""")
DELIBERATELY_WRONG = re.compile(r"\A(wrong|bad|another|unknown|nope|other)-")
CURVE_SECRET_LINE = re.compile(rb'secret-key\s*=\s*"([^"]+)"')
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Secret:
    value: str
    origin: str            # where the value was configured; safe to print

    @property
    def masked(self) -> str:
        return f"{self.value[:4]}...{self.value[-4:]}" if len(self.value) > 12 else "****"


@dataclass(frozen=True)
class Finding:
    where: str             # a file, or a file and a table/column/row
    secret: Secret
    context: str           # the text around the hit, with the secret blanked

    def describe(self) -> str:
        return (f"{self.where}: secret {self.secret.masked} (configured in {self.secret.origin}) "
                f"near: {self.context!r}")


@dataclass
class ScanReport:
    secrets: int = 0
    files: int = 0
    bytes: int = 0
    databases: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)   # databases SQLite could not open

    def summary(self) -> str:
        return (f"{self.secrets} secrets looked for in {self.files} files ({self.bytes:,} bytes), "
                f"{self.databases} SQLite databases ({self.rows:,} rows): {len(self.findings)} findings, "
                f"{len(self.unreadable)} unreadable databases")


# -- collecting the secrets -------------------------------------------------------------------

def _keep(value: str | None) -> bool:
    return bool(value) and len(value.strip()) >= MIN_LENGTH


def secrets_in_sandbox_config(path: Path) -> list[Secret]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    found = []
    for key in data.get("key", []) if isinstance(data.get("key"), list) else []:
        for name in ("api_key", "api_secret"):
            value = key.get(name) if isinstance(key, dict) else None
            if isinstance(value, str) and _keep(value):
                found.append(Secret(value, f"{path} [[key]] {key.get('name', '?')}.{name}"))
    return found


def secrets_in_env_file(path: Path) -> list[Secret]:
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        value = value.strip().strip("'\"")
        if sep and SECRET_ENV_NAME.search(name) and _keep(value):
            found.append(Secret(value, f"{path} {name}"))
    return found


def secrets_in_curve_file(path: Path) -> list[Secret]:
    try:
        match = CURVE_SECRET_LINE.search(path.read_bytes())
    except OSError:
        return []
    if match is None:
        return []
    return [Secret(match.group(1).decode("ascii", "replace"), f"{path} secret-key")]


def secrets_in_private_key_pem(path: Path) -> list[Secret]:
    """The base64 body of a PEM private key (an Ed25519 API key); nothing for a public key."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    if "PRIVATE KEY-----" not in text:
        return []
    body = "".join(line.strip() for line in text.splitlines() if line and not line.startswith("-----"))
    return [Secret(body, f"{path} private key")] if body else []


def secrets_in_sources(folders: Iterable[Path]) -> list[Secret]:
    found: dict[str, Secret] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for match in SOURCE_LITERAL.finditer(path.read_bytes()):
                value = match.group(1).decode()
                if _keep(value) and not DELIBERATELY_WRONG.match(value):
                    found.setdefault(value, Secret(value, f"a literal in {path.name}"))
    return list(found.values())


def secrets_in_folder(folder: Path) -> list[Secret]:
    """The secrets configured by the input files anywhere under `folder`."""
    found: list[Secret] = []
    for path in _files(folder):
        if path.suffix == ".env" or path.name.endswith(".env"):
            found += secrets_in_env_file(path)
        elif path.suffix == ".key_secret":
            found += secrets_in_curve_file(path)
        elif path.suffix == ".pem":
            found += secrets_in_private_key_pem(path)
        elif path.suffix == ".toml":
            found += secrets_in_sandbox_config(path)
    return found


def unique(secrets: Iterable[Secret]) -> list[Secret]:
    by_value: dict[str, Secret] = {}
    for secret in secrets:
        by_value.setdefault(secret.value, secret)
    return list(by_value.values())


# -- scanning ---------------------------------------------------------------------------------

def _files(folder: Path) -> Iterator[Path]:
    """Regular files under `folder`, not following symlinks (pytest's `...current` links
    point at folders scanned anyway), leaving out folders that hold IGNORE_MARKER."""
    if not folder.is_dir() or folder.is_symlink():
        return
    for root, dirs, files in os.walk(folder, followlinks=False):
        if IGNORE_MARKER in files:
            dirs.clear()
            continue
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            if not path.is_symlink() and path.is_file():
                yield path


def is_input(path: Path) -> bool:
    return path.suffix in INPUT_SUFFIXES or path.name.endswith(".env")


def _context(data: bytes, at: int, secret: bytes) -> str:
    start, end = max(0, at - 60), min(len(data), at + len(secret) + 60)
    around = data[start:end].replace(secret, b"<SECRET>")
    return around.decode("utf-8", "replace")


def scan_bytes(data: bytes, where: str, secrets: Iterable[Secret]) -> list[Finding]:
    findings = []
    for secret in secrets:
        needle = secret.value.encode()
        at = data.find(needle)
        if at >= 0:
            findings.append(Finding(where, secret, _context(data, at, needle)))
    return findings


def _as_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return b""


def scan_sqlite(path: Path, secrets: list[Secret], report: ScanReport) -> list[Finding]:
    """Every text and blob value of every table, read through SQLite (WAL included)."""
    findings: list[Finding] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        report.unreadable.append(f"{path}: {type(exc).__name__}: {exc}")
        return findings
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        report.databases += 1
        for table in tables:
            rows_before = report.rows
            quoted = '"' + table.replace('"', '""') + '"'
            cursor = conn.execute(f"SELECT * FROM {quoted}")   # (WITHOUT ROWID tables have no rowid)
            columns = [d[0] for d in cursor.description]
            while rows := cursor.fetchmany(5000):
                first_row = report.rows - rows_before
                report.rows += len(rows)
                # One joined buffer per chunk: a find per secret, rows looked at only on a hit.
                blob = b"\x00".join(_as_bytes(v) for row in rows for v in row)
                for secret in secrets:
                    needle = secret.value.encode()
                    if needle not in blob:
                        continue
                    for index, row in enumerate(rows):
                        for column, value in zip(columns, row):
                            data = _as_bytes(value)
                            at = data.find(needle)
                            if at >= 0:
                                findings.append(Finding(f"{path} {table}.{column} row #{first_row + index + 1}",
                                                        secret, _context(data, at, needle)))
    except sqlite3.Error as exc:
        report.unreadable.append(f"{path}: {type(exc).__name__}: {exc}")
    finally:
        conn.close()
    return findings


def scan_folder(folder: Path, secrets: list[Secret], report: ScanReport) -> None:
    """Every output file under `folder`: raw bytes, and SQLite rows for databases."""
    for path in _files(folder):
        if is_input(path):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        report.files += 1
        report.bytes += len(data)
        report.findings += scan_bytes(data, str(path), secrets)
        if data[:16] == SQLITE_MAGIC:
            report.findings += scan_sqlite(path, secrets, report)


def scan_run(basetemp: Path, shared: list[Secret], *, everywhere: Iterable[Path] = ()) -> ScanReport:
    """Scan a pytest basetemp: each top-level folder with its own secrets plus `shared`;
    the folders in `everywhere` (captured output, mails) with every secret of the run."""
    report = ScanReport()
    everywhere = [p.resolve() for p in everywhere]
    per_folder: dict[Path, list[Secret]] = {}
    for child in sorted(basetemp.iterdir()) if basetemp.exists() else []:
        if child.is_dir() and child.resolve() not in everywhere:
            per_folder[child] = unique(secrets_in_folder(child) + shared)
    all_secrets = unique([s for found in per_folder.values() for s in found] + shared)
    report.secrets = len(all_secrets)
    for folder, secrets in per_folder.items():
        scan_folder(folder, secrets, report)
    for folder in everywhere:
        scan_folder(folder, all_secrets, report)
    return report
