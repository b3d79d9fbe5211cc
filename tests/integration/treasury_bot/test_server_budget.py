"""The per-client request budget on the real server (DESIGN section 9, issue 10 defect 6):
over its budget a client's new intent is rejected/client_rate_limited, status denied, not
journaled; a replay still gets its decision; the refusals leave as one digest alert."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.support.ledger_peek import peek_one
from tests.support.treasury import InProcessServer, make_curve, policy, policy_text
from tests.support.treasury import wire_intent as intent

BUDGETED = policy_text(client_budgets={"signal": 3})


@pytest.fixture
def server(tmp_path):
    srv = InProcessServer(tmp_path, make_curve(tmp_path), policy(BUDGETED)).start()
    yield srv
    srv.close()


def count_rows(srv: InProcessServer, table: str) -> int:
    return peek_one(srv.ledger_path, f"SELECT COUNT(*) FROM {table}")


def alerts_of(srv: InProcessServer, kind: str) -> list[str]:
    conn = sqlite3.connect(srv.ledger_path)
    try:
        return [row[0] for row in conn.execute("SELECT facts FROM alert_outbox WHERE kind = ?", (kind,))]
    finally:
        conn.close()


def test_intents_over_the_client_budget_are_refused_uncounted_and_unjournaled(server):
    with server.client("signal") as client:
        firsts = [client.send_intent(intent(f"b-{n}")) for n in range(3)]
        over = [client.send_intent(intent(f"o-{n}")) for n in range(5)]
    assert all(reply.outcome == "accepted" for reply in firsts)
    for reply in over:
        assert (reply.outcome, reply.reason_code, reply.status) == ("rejected", "client_rate_limited", "denied")
    assert count_rows(server, "intents") == 3                  # the refusals left no row each
    digests = alerts_of(server, "client_rate_limited")
    # The first refusal is alerted at once; the next four wait for the next minute's digest.
    assert len(digests) == 1 and json.loads(digests[0])["refused"] == 1


def test_a_replay_over_the_budget_still_gets_its_decision(server):
    with server.client("signal") as client:
        sent = [intent(f"r-{n}") for n in range(3)]
        firsts = [client.send_intent(one) for one in sent]
        assert client.send_intent(intent("r-new")).reason_code == "client_rate_limited"
        again = client.send_intent(sent[0])
    assert again == firsts[0]


def test_other_clients_keep_their_own_budget(server):
    with server.client("signal") as client:
        for n in range(4):
            client.send_intent(intent(f"s-{n}"))
    with server.client("other") as other:
        reply = other.send_intent(intent("x-1", destination="hot-wallet"))
    assert reply.reason_code != "client_rate_limited"
