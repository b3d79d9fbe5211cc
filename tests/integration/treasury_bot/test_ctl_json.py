"""Issue 14: `treasuryctl status --json` and `list --json` against a real ledger: the
documented shape (docs/operations.md), money as strings, times as ms and ISO strings."""

from __future__ import annotations

import json
import re

from tests.integration.treasury_bot.test_ctl import restore_logging, run, site  # noqa: F401 - fixtures
from treasury_bot.ctl.json_reports import LIST_SCHEMA, STATUS_SCHEMA

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def test_status_json_has_the_documented_shape_with_money_as_strings(site, capsys):  # noqa: F811 - the fixture
    """Open intents, counts, window usage per coin as strings, times as ms and ISO."""
    site.accept("js-1", "600")
    site.accept("js-2", "900")  # over approval_above 800: pending_approval
    code, out, _ = run(site, capsys, "status", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == STATUS_SCHEMA
    assert set(doc) >= {"now_ms", "now_at", "frozen", "withdrawals", "open_intents", "counts", "window",
                        "last_poll_ms", "last_poll_at", "outbox", "clock", "stalled", "pending_loosenings"}
    assert doc["frozen"] is None and doc["withdrawals"]["halted"] is False
    assert doc["counts"] == {"open": 2, "pending_approval": 1, "needs_review": 0}
    assert doc["window"]["coins"]["USDT"] == {"used": "1500", "cap": "5000", "ratio": "0.3"}
    first = doc["open_intents"][0]
    assert first["intent_id"] == "js-1" and first["amount"] == "600" and isinstance(first["amount"], str)
    assert isinstance(first["received_ms"], int) and ISO.match(first["received_at"])
    assert doc["last_poll_ms"] is None and doc["last_poll_at"] is None


def test_status_json_shows_a_freeze_with_its_reason_label(site, capsys):  # noqa: F811 - the fixture
    """A standing freeze is an object with the fixed-set reason, who, why and since when."""
    from treasury_bot import freeze
    freeze.freeze(site.ledger, by="ops@test", reason="drill", now=site.clock.now_ms())
    doc = json.loads(run(site, capsys, "status", "--json")[1])
    assert doc["frozen"]["reason"] == "operator" and doc["frozen"]["by"] == "ops@test"
    assert doc["frozen"]["detail"] == "drill" and ISO.match(doc["frozen"]["since_at"])


def test_list_json_lists_intents_oldest_first_with_the_status_filter(site, capsys):  # noqa: F811 - the fixture
    """`list --json`: schema, count and the intents; `--status` filters as in the text form."""
    site.accept("jl-1", "100")
    site.accept("jl-2", "900")
    doc = json.loads(run(site, capsys, "list", "--json")[1])
    assert doc["schema"] == LIST_SCHEMA and doc["count"] == 2
    assert [i["intent_id"] for i in doc["intents"]] == ["jl-1", "jl-2"]
    only = json.loads(run(site, capsys, "list", "--json", "--status", "pending_approval")[1])
    assert [i["intent_id"] for i in only["intents"]] == ["jl-2"]
