"""`treasuryctl export`'s records and their two formats, pure (issue 13 item 4).

One record per journaled row, in chain (write) order, with the link that seals it, so an
auditor can recompute each hash from the export alone (treasury_bot/journal_chain.py):

    hash == SHA-256(bytes.fromhex(chain_prev) || body(chain_seq, record, key, fields' values))

The shape is stable (docs/design.md section 13): keys `record` (the sealed table's name:
intents, decisions, transitions, alert_outbox, freezes, unfreezes, and any table added to
journal_chain.TABLES later), `key` (the row's key in that table), `chain_seq`,
`chain_hash`, `chain_prev`, `at_ms`, `at_utc`, `fields` (the sealed columns, in the order
hashed; a BLOB is `{"base64": ...}`), `state` (columns the row changes later, not sealed:
an intent's status, an alert's delivery). A row no link seals (tampering: `verify` names
it) is exported last with null chain fields. CSV has the same columns, `fields` and
`state` as JSON text.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

from treasury_bot.alerts.formats import iso_utc

FORMATS = ("jsonl", "csv")
COLUMNS = ("record", "key", "chain_seq", "chain_hash", "chain_prev", "at_ms", "at_utc", "fields", "state")


@dataclass(frozen=True)
class ExportRow:
    record: str
    key: int
    chain_seq: int | None
    chain_hash: str | None
    chain_prev: str | None
    at_ms: int | None
    fields: tuple[tuple[str, object], ...]
    state: tuple[tuple[str, object], ...] = ()


def _value(value: object) -> object:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def as_object(row: ExportRow) -> dict[str, object]:
    return {
        "record": row.record, "key": row.key, "chain_seq": row.chain_seq, "chain_hash": row.chain_hash,
        "chain_prev": row.chain_prev, "at_ms": row.at_ms,
        "at_utc": iso_utc(row.at_ms) if row.at_ms is not None else None,
        "fields": {name: _value(v) for name, v in row.fields},
        "state": {name: _value(v) for name, v in row.state},
    }


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def lines(rows: Iterable[ExportRow], fmt: str) -> Iterator[str]:
    """The export's text, line by line (each ends with a newline)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "jsonl":
        for row in rows:
            yield _json(as_object(row)) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        item = as_object(row)
        writer.writerow([_json(item[c]) if c in ("fields", "state") else ("" if item[c] is None else item[c])
                         for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def values_of(fields: Mapping[str, object]) -> list[object]:
    """A parsed record's `fields` as the chain hashed them, in order (the auditor's inverse)."""
    return [base64.b64decode(v["base64"]) if isinstance(v, dict) else v for v in fields.values()]
