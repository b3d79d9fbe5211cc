"""No intent-status string literal in product code outside treasury_bot/lifecycle.py and
the wire schema (common/messages.py) (issue 11, item 1).

The scan reads the source with `ast`, so a status word inside a sentence or a log message
is not a literal: a string constant that IS a status name counts, and so does a status
quoted inside SQL text (`status = 'queued'`), which is a comparison all the same. One SQL
spelling is let through wherever it stands: the ledger's partial index on open intents,
`NOT IN ('completed', ...)` over exactly the terminal set, which the queries must repeat
word for word for SQLite to use that index.

Other vocabularies share words with the statuses; each is let through by one narrow rule:
- a decision's outcome ("rejected", "pending_approval"): a constant compared with, or
  passed as, an `outcome`;
- a few named constants of other vocabularies, listed with their reasons in
  `OTHER_VOCABULARIES` (each must still exist: a stale entry fails);
- the signal bot's own order states ("failed", "rejected": signal_bot/state.py), which
  count in signal_bot/ only when they meet a `status`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from treasury_bot import lifecycle

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("treasury_bot", "common", "signal_bot")
OWNERS = {"treasury_bot/lifecycle.py", "common/messages.py"}

# (file, the constant's name) -> why its value is not an intent status.
OTHER_VOCABULARIES = {
    ("treasury_bot/verdict.py", "REJECTED"): "a decision's outcome",
    ("treasury_bot/verdict.py", "PENDING_APPROVAL"): "a decision's outcome",
    ("treasury_bot/alerts/model.py", "NEEDS_REVIEW"): "an alert kind, stored in the outbox",
    ("treasury_bot/reconcile.py", "ApplyAction.FAILED"): "what the executor does after an apply error",
    ("treasury_bot/reconcile.py", "ReconcileAction.NEEDS_REVIEW"): "a reconciliation step's action",
}
ORDER_STATES = frozenset({"failed", "rejected"})  # signal_bot/state.py's order states
_QUOTED = re.compile(r"'([a-z_]+)'")
_IN_LIST = re.compile(r"NOT IN \(\s*('[a-z_]+'\s*,?\s*)+\)")
# The index's spellings: the terminal set, and version 1's (before shadow mode's status,
# issue 13; version 3 redefines the index, treasury_bot/ledger/schema.py).
_INDEX_SETS = (set(lifecycle.TERMINAL), set(lifecycle.TERMINAL - {lifecycle.SHADOWED}))

# Files still to be rewritten to take their statuses from lifecycle (none now: decider.py
# and server.py were, with plan_batch and journal). A file here with no literal left
# fails, so this list cannot outlive its reason.
AWAITING_REWRITE: set[str] = set()


def _name_of(node: ast.AST | None) -> str:
    """The last identifier an expression names: `reply.outcome` -> outcome."""
    match node:
        case ast.Name(id=name):
            return name
        case ast.Attribute(attr=name):
            return name
        case ast.Call(func=func) | ast.Subscript(value=func):
            return _name_of(func)
    return ""


def _with_parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def _context(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> tuple[ast.AST, ast.AST | None]:
    """The node that gives the constant its meaning: a tuple of statuses means what the
    tuple means."""
    parent = parents.get(node)
    while isinstance(parent, (ast.Tuple, ast.List, ast.Set)):
        node, parent = parent, parents.get(parent)
    return node, parent


def _defined_name(parent: ast.AST | None, parents: dict[ast.AST, ast.AST]) -> str | None:
    """`NAME` for a module-level constant, `Class.NAME` for a class member."""
    if not isinstance(parent, ast.Assign) or len(parent.targets) != 1 \
            or not isinstance(parent.targets[0], ast.Name):
        return None
    name = parent.targets[0].id
    owner = parents.get(parent)
    return f"{owner.name}.{name}" if isinstance(owner, ast.ClassDef) else name


def _meets(parent: ast.AST | None, node: ast.AST, word: str) -> bool:
    """Whether the constant is compared with, or passed as, something named `word`."""
    if isinstance(parent, ast.Compare):
        operands = [parent.left, *parent.comparators]
        return any(word in _name_of(o).lower() for o in operands if o is not node)
    if isinstance(parent, ast.keyword):
        return word in (parent.arg or "").lower()
    return False


def _in_sql(text: str) -> list[str]:
    """The statuses quoted in an SQL text, the partial index's terminal predicate aside."""
    def keep_unless_terminal(match: re.Match) -> str:
        return "" if set(_QUOTED.findall(match.group(0))) in _INDEX_SETS else match.group(0)
    return [word for word in _QUOTED.findall(_IN_LIST.sub(keep_unless_terminal, text))
            if word in lifecycle.ALL]


def _literals(path: str, tree: ast.AST, used: set[tuple[str, str]]) -> list[str]:
    parents = _with_parents(tree)
    found = []
    for node in sorted((n for n in ast.walk(tree) if isinstance(n, ast.Constant)),
                       key=lambda n: (n.lineno, n.col_offset)):
        if not isinstance(node.value, str):
            continue
        if node.value not in lifecycle.ALL:
            found += [f"{path}:{node.lineno}: {word!r} in SQL" for word in _in_sql(node.value)
                      if not (path.startswith("signal_bot/") and word in ORDER_STATES)]
            continue
        holder, parent = _context(node, parents)
        if _meets(parent, holder, "outcome"):
            continue
        defined = _defined_name(parent, parents)
        if (path, defined) in OTHER_VOCABULARIES:
            used.add((path, defined))
            continue
        if path.startswith("signal_bot/") and node.value in ORDER_STATES \
                and not _meets(parent, holder, "status"):
            continue
        found.append(f"{path}:{node.lineno}: {node.value!r}")
    return found


def _scan() -> tuple[list[str], dict[str, list[str]], set[tuple[str, str]]]:
    found, awaiting, used = [], {}, set()
    for package in PACKAGES:
        for file in sorted((ROOT / package).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            if path in OWNERS:
                continue
            hits = _literals(path, ast.parse(file.read_text(), path), used)
            if path in AWAITING_REWRITE:
                awaiting[path] = hits
            else:
                found += hits
    return found, awaiting, used


def test_no_product_module_spells_a_status_outside_the_lifecycle():
    found, _, _ = _scan()
    assert not found, ("status literals outside treasury_bot/lifecycle.py; use its constants "
                       "and sets:\n" + "\n".join(found))


def test_every_exception_to_the_scan_still_has_a_reason_to_exist():
    _, awaiting, used = _scan()
    stale = sorted(set(OTHER_VOCABULARIES) - used)
    assert not stale, f"OTHER_VOCABULARIES names constants that are gone: {stale}"
    done = sorted(path for path, hits in awaiting.items() if not hits)
    assert not done, f"no status literal left in {done}: drop them from AWAITING_REWRITE"


def _hits(source: str, path: str = "treasury_bot/example.py") -> list[str]:
    return _literals(path, ast.parse(source), set())


def test_the_scan_flags_a_status_compared_assigned_passed_or_used_as_a_key():
    source = "\n".join([
        'if record.status == "queued": pass',
        'if later in ("completed", "failed"): pass',
        'TERMINAL = frozenset({"denied"})',
        'ledger.set_status(record, "submitting", now, "executor")',
        'LABELS = {"processing": "at the exchange"}',
        'x = Thing(status="needs_review")',
    ])
    assert [hit.split(": ")[1] for hit in _hits(source)] == [
        "'queued'", "'completed'", "'failed'", "'denied'", "'submitting'", "'processing'",
        "'needs_review'"]


def test_the_scan_ignores_sentences_outcomes_and_the_signal_bots_order_states():
    source = "\n".join([
        '"""A docstring that says queued and failed."""',
        'log.info("the intent is queued now")',
        'sql = "SELECT 1 FROM intents -- the queued ones"',
        'if reply.outcome != "rejected": pass',
        'Decision(outcome="pending_approval")',
    ])
    assert _hits(source) == []
    sql = ('"CREATE INDEX x ON intents(status) WHERE status NOT IN '
           '(\'completed\', \'failed\', \'rejected\', \'cancelled\', \'denied\')"')
    assert _hits(sql) == []


def test_the_scan_flags_a_status_quoted_in_sql():
    source = ('sql = "SELECT MIN(at) FROM transitions WHERE to_status = \'queued\'"\n'
              'other = "WHERE status NOT IN (\'completed\', \'failed\')"')
    assert _hits(source) == ["treasury_bot/example.py:1: 'queued' in SQL",
                             "treasury_bot/example.py:2: 'completed' in SQL",
                             "treasury_bot/example.py:2: 'failed' in SQL"]
    orders = 'self._finish_error(plan, "failed", exc)\nif row.status == "rejected": pass'
    assert _hits(orders, "signal_bot/orders.py") == ["signal_bot/orders.py:2: 'rejected'"]
