"""The drawing's edges, through a real ledger (issue 11, item 1).

docs/architecture.md ("The state machine") carries, under its drawing, a table of every
move: from | by | to. This reads that table, proves it is exactly `lifecycle.ALLOWED`,
makes each move on a real SQLite ledger, and proves every other move refused with
`IllegalTransition`, leaving the intent's row and its transitions as they were.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from pathlib import Path

import pytest

from treasury_bot import lifecycle
from treasury_bot.ledger import Ledger
from treasury_bot.lifecycle import ALLOWED, IllegalTransition
from tests.support.treasury_core import T0, open_ledger

ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
NEW = "(new)"


def drawn_edges() -> dict[tuple[str | None, str], frozenset[str]]:
    text = ARCHITECTURE.read_text()
    section = text[text.index("## The state machine"):]
    section = section[:section.index("\n## ", 1)]
    rows = re.findall(r"^\| *([a-z_()]+) *\| *([a-z]+) *\| *([a-z_, ]+?) *\|$", section, re.M)
    assert rows and rows[0] == ("from", "by", "to"), "no edge table under the state machine's drawing"
    table: dict[tuple[str | None, str], frozenset[str]] = {}
    for from_status, source, to in rows[1:]:  # the first row is the header
        key = (None if from_status == NEW else from_status, source)
        assert key not in table, f"{key} appears twice in the table"
        table[key] = frozenset(s.strip() for s in to.split(","))
    return table


def drawing() -> str:
    text = ARCHITECTURE.read_text()
    section = text[text.index("## The state machine"):]
    return section[section.index("```") + 3:section.index("```", section.index("```") + 3)]


def test_the_documented_table_is_exactly_the_lifecycles():
    assert drawn_edges() == dict(ALLOWED)


def test_the_drawing_names_every_status_and_every_writer():
    picture = drawing()
    for word in (*lifecycle.ALL, *lifecycle.SOURCES):
        assert re.search(rf"\b{word}\b", picture), f"the drawing never shows {word}"


# -- driving a real ledger ----------------------------------------------------------------

def _paths() -> dict[str, list[tuple[str, str]]]:
    """For each status, the shortest allowed walk from creation: [(source, to), ...]."""
    paths: dict[str, list[tuple[str, str]]] = {}
    todo: deque[tuple[str | None, list[tuple[str, str]]]] = deque([(None, [])])
    while todo:
        status, walk = todo.popleft()
        for (from_status, source), tos in sorted(ALLOWED.items(), key=repr):
            if from_status != status:
                continue
            for to in sorted(tos):
                if to not in paths:
                    paths[to] = walk + [(source, to)]
                    todo.append((to, paths[to]))
    return paths


PATHS = _paths()


class Intents:
    """Creates intents and walks them along allowed moves, as the writers would."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.made = 0
        self.at = T0

    def create(self, status: str, source: str = lifecycle.DECIDER) -> str:
        """One decided intent in `status`: its row and its first transition, one commit."""
        self.made += 1
        intent_id = f"edge-{self.made}"
        with self.ledger.transaction():
            seq = self.ledger.next_intent_seq()
            self.ledger.insert_intents([(seq, intent_id, "signal", "USDT", "TRX", "cold-wallet", "100",
                                         "edges", T0, b"raw", T0, "accepted", None, "", status, T0,
                                         "TADDRESS", None, T0)])
            self.ledger.insert_transitions([(seq, T0, None, status, source, "")])
        return intent_id

    def move(self, intent_id: str, source: str, to: str) -> None:
        self.at += 1
        with self.ledger.transaction():
            self.ledger.set_status(self.ledger.get_intent(intent_id), to, self.at, source, "edge walk")

    def in_status(self, status: str) -> str:
        (first_source, first), *rest = PATHS[status]
        intent_id = self.create(first, first_source)
        for source, to in rest:
            self.move(intent_id, source, to)
        assert self.ledger.get_intent(intent_id).status == status
        return intent_id


@pytest.fixture
def intents(tmp_path):
    ledger = open_ledger(tmp_path / "ledger.sqlite")
    yield Intents(ledger)
    ledger.close()


def _snapshot(ledger: Ledger, intent_id: str):
    record = ledger.get_intent(intent_id)
    return record, ledger.transitions_of(record)


def test_every_status_is_reached_by_allowed_moves_alone():
    assert set(PATHS) == lifecycle.ALL


@pytest.mark.parametrize("edge", sorted(((f, s, t) for (f, s), tos in ALLOWED.items() for t in tos),
                                        key=repr), ids=lambda e: f"{e[0] or 'new'}-{e[1]}-{e[2]}")
def test_each_drawn_edge_moves_a_real_intent_and_journals_it(intents, edge):
    from_status, source, to = edge
    if from_status is None:
        intent_id = intents.create(to, source)
        history = [(None, to, source)]
    else:
        intent_id = intents.in_status(from_status)
        intents.move(intent_id, source, to)
        history = [(from_status, to, source)]
    record, transitions = _snapshot(intents.ledger, intent_id)
    assert record.status == to
    assert [(f, t, s) for _, f, t, s, _ in transitions[-1:]] == history


def test_every_other_move_from_a_status_is_refused_and_changes_nothing(intents):
    refused = 0
    for from_status in sorted(lifecycle.ALL):
        intent_id = intents.in_status(from_status)
        before = _snapshot(intents.ledger, intent_id)
        for source, to in itertools.product(sorted(lifecycle.SOURCES), sorted(lifecycle.ALL)):
            if lifecycle.is_allowed(from_status, source, to):
                continue
            with pytest.raises(IllegalTransition):
                intents.move(intent_id, source, to)
            refused += 1
        assert _snapshot(intents.ledger, intent_id) == before, from_status
    assert refused == len(lifecycle.ALL) * len(lifecycle.SOURCES) * len(lifecycle.ALL) - sum(
        len(tos) for (f, _), tos in ALLOWED.items() if f is not None)


def test_every_other_creation_is_refused_and_leaves_no_row(intents):
    for source, status in itertools.product(sorted(lifecycle.SOURCES), sorted(lifecycle.ALL)):
        if lifecycle.is_allowed(None, source, status):
            continue
        made_before = intents.made
        with pytest.raises(IllegalTransition):
            intents.create(status, source)
        assert intents.ledger.get_intent(f"edge-{made_before + 1}") is None
    assert intents.ledger.last_transition_seq() == 0
