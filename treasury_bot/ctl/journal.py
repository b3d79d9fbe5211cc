"""The journal's commands (issue 13 items 4 and 6): `verify`, `export` and `backup`.

- `verify`: walk the hash chain; exit 0 and print the head when intact, exit 1 naming the
  first broken link (table, row, edited | deleted | inserted). `--anchor SEQ:HASH` (a head
  from a start summary or a daily statement mail) also proves that link is unchanged.
- `export --since DATE --format jsonl|csv [--out PATH]`: the sealed rows with their links
  (shape: treasury_bot/journal_export.py, docs/design.md section 13).
- `backup PATH`: SQLite's online backup into a new 0600 file, then integrity_check and the
  chain on the copy; prints the copy's head.
All read the ledger read-only (`--ledger PATH` names a file directly: a copy, an auditor's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from common.config import load_treasury_settings
from common.clock import SystemClock
from treasury_bot import journal_chain, journal_export
from treasury_bot.ctl.site import EXIT_FAIL, EXIT_OK, error_line
from treasury_bot.ctl.text import parse_since
from treasury_bot.ledger.chain import ChainFileError, backup, export_rows, file_hash_at, verify_file


def _ledger_path(args) -> Path:
    if getattr(args, "ledger", None):
        return Path(args.ledger)
    return Path(load_treasury_settings(args.env_file).ledger_path)


def cmd_verify(args) -> int:
    path = _ledger_path(args)
    anchors = [journal_chain.parse_head(text) for text in args.anchor or ()]
    try:
        verdict = verify_file(path)
        anchor_problems = [p for a in anchors if (p := journal_chain.check_anchor(a, file_hash_at(path, a.seq)))]
    except ChainFileError as exc:
        error_line(f"treasuryctl verify: {exc}")
        return EXIT_FAIL
    if not verdict.intact:
        broken = verdict.broken
        error_line(f"chain BROKEN at link {broken.link}: {broken.describe()}")
        print(f"links verified before the break: {verdict.links}; last good head: {verdict.head}")
        return EXIT_FAIL
    if anchor_problems:
        for problem in anchor_problems:
            error_line(f"chain BROKEN: {problem}")
        return EXIT_FAIL
    print(f"chain intact: {verdict.links} links; head {verdict.head}"
          + (f"; {len(anchors)} mailed head(s) found unchanged" if anchors else ""))
    return EXIT_OK


def cmd_export(args) -> int:
    path = _ledger_path(args)
    since = parse_since(args.since, SystemClock().now_ms())
    if args.format not in journal_export.FORMATS:
        raise ValueError(f"--format: {args.format!r} is not one of {', '.join(journal_export.FORMATS)}")
    try:
        rows = export_rows(path, since)
    except ChainFileError as exc:
        error_line(f"treasuryctl export: {exc}")
        return EXIT_FAIL
    if args.out:
        try:
            fd = os.open(args.out, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            error_line(f"treasuryctl export: {args.out} exists: choose a new file")
            return EXIT_FAIL
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.writelines(journal_export.lines(rows, args.format))
        print(f"exported {len(rows)} records to {args.out}")
    else:
        sys.stdout.writelines(journal_export.lines(rows, args.format))
    return EXIT_OK


def cmd_backup(args) -> int:
    source = _ledger_path(args)
    try:
        result = backup(source, Path(args.path))
    except ChainFileError as exc:
        error_line(f"treasuryctl backup: {exc}")
        return EXIT_FAIL
    except OSError as exc:
        error_line(f"treasuryctl backup: cannot write {args.path}: {exc.strerror}")
        return EXIT_FAIL
    print(f"backup written: {result.path} ({result.pages} pages, mode 0600); integrity ok; "
          f"chain intact: {result.verdict.links} links; head {result.verdict.head}")
    return EXIT_OK


def add_commands(sub, env) -> None:
    """The journal's subcommands on treasuryctl's parser (appended after the others)."""
    ledger_help = "a ledger file to read instead of the env file's (e.g. a copy)"
    ver = sub.add_parser("verify", parents=[env], help="walk the journal's hash chain; exit 1 names the first "
                         "broken link")
    ver.add_argument("--ledger", help=ledger_help)
    ver.add_argument("--anchor", action="append", metavar="SEQ:HASH",
                     help="a chain head from a mail: prove that link is unchanged (repeatable)")
    ver.set_defaults(func=cmd_verify)
    exp = sub.add_parser("export", parents=[env], help="the journal's rows with their chain hashes, for auditors")
    exp.add_argument("--since", required=True, help="rows from: a date (2026-01-01), an ISO time, 7d, or ms")
    exp.add_argument("--format", required=True, choices=journal_export.FORMATS)
    exp.add_argument("--out", help="write to this new file (mode 0600) instead of stdout")
    exp.add_argument("--ledger", help=ledger_help)
    exp.set_defaults(func=cmd_export)
    bak = sub.add_parser("backup", parents=[env], help="online backup of the ledger into a new file, verified")
    bak.add_argument("path", help="the new file (never overwritten)")
    bak.add_argument("--ledger", help="the ledger file to copy instead of the env file's")
    bak.set_defaults(func=cmd_backup)
