"""docs/design.md is the contract the code cites: every section the product code cites
exists, and every name the contract fixes (alert kinds, reason codes, env names, policy
and signal config keys, wire names) is stated in it. Reads files as text; opens no socket."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import msgspec
from msgspec import inspect as mi

from common import messages
from signal_bot.config_file import SignalConfig
from treasury_bot.alerts import model
from treasury_bot.policy_model import Policy
from treasury_bot.verdict import REASON_CODES

ROOT = Path(__file__).resolve().parents[3]
DESIGN = ROOT / "docs" / "design.md"
PRODUCT_DIRS = ("treasury_bot", "signal_bot", "common", "sandbox", "demo")
# Sections 1-9 keep ../shared/DESIGN.md's numbers (7a included), so a citation means the
# same in both; the project's own sections follow from 10.
SHARED_NUMBERS = ("1", "2", "3", "4", "5", "6", "7", "7a", "8", "9")

# "DESIGN section 9", "DESIGN sections 1, 2, 5", "DESIGN 7a", "docs/design.md section 4";
# a citation may wrap onto the next line of a comment or docstring.
_CITATION = re.compile(
    r"(?:\bDESIGN(?:\.md)?|docs/design\.md)\s+(?:sections?\s+|§\s*)?"
    r"(?P<numbers>\d+[a-z]?\b(?:\s*(?:,|and)\s*\d+[a-z]?\b)*)")
_NUMBER = re.compile(r"\d+[a-z]?")
_WRAP = re.compile(r"\s*\n\s*(?:#\s*)?")
_ENV_NAME = re.compile(r"(?:BINANCE|TREASURY|SIGNAL|SMTP|ALERT|LOG)_[A-Z0-9_]+\Z")


def design_text() -> str:
    return DESIGN.read_text(encoding="utf-8")


def design_sections() -> list[str]:
    return re.findall(r"^## (\d+[a-z]?)\. ", design_text(), re.MULTILINE)


def named(name: str) -> bool:
    """A name counts as stated when it appears in code spelling: `name` (or inside a
    longer code span such as `[limits.clients.NAME] max_requests_per_minute`)."""
    return re.search(rf"`[^`\n]*(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])[^`\n]*`",
                     design_text()) is not None


def product_files() -> list[Path]:
    files: list[Path] = []
    for folder in PRODUCT_DIRS:
        files += sorted((ROOT / folder).rglob("*.py")) + sorted((ROOT / folder).rglob("*.md"))
    return files


def citations() -> list[tuple[str, str]]:
    """(where, section number) for every citation of the contract in product code."""
    found = []
    for path in product_files():
        text = _WRAP.sub(" ", path.read_text(encoding="utf-8"))
        for match in _CITATION.finditer(text):
            for number in _NUMBER.findall(match["numbers"]):
                found.append((f"{path.relative_to(ROOT)}: {match[0]!r}", number))
    return found


def struct_keys(root: type[msgspec.Struct]) -> set[str]:
    """Every key a strict msgspec loader of `root` accepts, at any depth."""
    keys: set[str] = set()
    seen: set[type] = set()

    def walk(info: mi.Type) -> None:
        if isinstance(info, mi.StructType):
            if info.cls in seen:
                return
            seen.add(info.cls)
            for field in info.fields:
                keys.add(field.encode_name)
                walk(field.type)
        elif isinstance(info, mi.Metadata):
            walk(info.type)
        elif isinstance(info, mi.UnionType):
            for member in info.types:
                walk(member)
        elif isinstance(info, (mi.DictType,)):
            walk(info.value_type)
        elif isinstance(info, (mi.VarTupleType, mi.ListType, mi.SetType, mi.FrozenSetType)):
            walk(info.item_type)

    walk(mi.type_info(root))
    return keys


def test_design_keeps_the_shared_section_numbers_and_adds_its_own_after_them():
    """Sections 1-9 (with 7a) come first, in DESIGN.md's order; the project's own are 10, 11, ..."""
    sections = design_sections()
    assert tuple(sections[:len(SHARED_NUMBERS)]) == SHARED_NUMBERS
    extra = sections[len(SHARED_NUMBERS):]
    assert extra == [str(n) for n in range(10, 10 + len(extra))]


def test_every_section_the_product_code_cites_exists_in_the_design():
    """A "DESIGN section N" or "docs/design.md section N" in product code names a real section."""
    found = citations()
    assert len(found) >= 30, "the citation pattern no longer finds the code's citations"
    sections = set(design_sections())
    missing = [where for where, number in found if number not in sections]
    assert missing == []


def test_every_alert_kind_is_named_in_the_design():
    """Each kind the outbox accepts is stated, with its severity, in the contract."""
    assert [kind for kind in model.KINDS if not named(kind)] == []


def test_every_reason_code_the_treasury_defines_is_named_in_the_design():
    """A client may see each of these codes; the contract says what each means."""
    assert [code for code in REASON_CODES if not named(code)] == []


def test_every_env_name_the_config_loader_reads_is_named_in_the_design():
    """Each variable common/config/ knows (required, optional, test-only) is in the contract."""
    # __init__.py only re-exports: its __all__ holds Python names (TREASURY_SECRET_NAMES), not env names.
    modules = sorted(p for p in (ROOT / "common" / "config").glob("*.py") if p.name != "__init__.py")
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in modules]
    names = {node.value for tree in trees for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and _ENV_NAME.match(node.value)}
    assert len(names) >= 25, "the env-name pattern no longer finds the loader's names"
    assert sorted(name for name in names if not named(name)) == []


def test_every_policy_key_the_loader_accepts_is_named_in_the_design():
    """Each key of the policy file, at any depth, is stated in the contract."""
    keys = struct_keys(Policy)
    assert {"quarantine_hours", "max_requests_per_minute", "reconcile_grace_seconds", "clients"} <= keys
    assert sorted(key for key in keys if not named(key)) == []


def test_every_signal_config_key_is_named_in_the_design():
    """Each key of the signal bot's signal.toml is stated in the contract."""
    assert sorted(key for key in struct_keys(SignalConfig) if not named(key)) == []


def test_every_wire_name_is_named_in_the_design():
    """Message types, field names, statuses and error codes of the wire are all in the contract."""
    structs = (messages.TransferIntent, messages.IntentStatus, messages.Ping, messages.Decision,
               messages.IntentState, messages.Pong, messages.Error, messages.WithdrawalEvent)
    names = {info.tag for info in map(mi.type_info, structs)}
    for struct in structs:
        names |= struct_keys(struct)
    names |= set(messages.STATUSES)
    names |= set(messages.ErrorCode.__args__)  # type: ignore[attr-defined]
    names.add(messages.EVENT_TOPIC.decode())
    assert sorted(name for name in names if not named(name)) == []


def test_the_docs_point_to_the_design_in_the_repo_for_the_contract():
    """A page that mentions DESIGN.md also points to docs/design.md, the contract in the repo."""
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    stale = [page.name for page in pages
             if page != DESIGN and "DESIGN.md" in page.read_text(encoding="utf-8")
             and "docs/design.md" not in page.read_text(encoding="utf-8")]
    assert stale == []
