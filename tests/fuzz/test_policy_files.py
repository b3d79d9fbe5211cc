"""Fuzzing treasury_bot/policy_file.py `parse_policy`: random TOML documents, random and
targeted mutations of a valid one, and text-level damage to a real file.

Properties:
- never any exception but PolicyError; a returned Policy holds DESIGN's invariants;
- a PolicyError's message is one line, starts with the file's name, and names where:
  the key (for any syntactically valid TOML document) or the line (for a syntax error);
- a targeted mutation (a required key removed, an unknown key added, a wrong type, an out
  of range number, a bad amount, a bad pattern, a duplicate label, a coin without limits,
  a hidden character in an address) is refused naming exactly the mutated key.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import tomllib
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.frames import ci_settings
from treasury_bot.policy_file import PolicyError, parse_policy
from treasury_bot.policy_model import Policy

SOURCE = "fuzz.toml"

VALID: dict[str, Any] = {
    "quarantine_hours": 24,
    "allow_trading_key": False,
    "allow_unrestricted_ip": False,
    "limits": {
        "window_hours": 24, "max_transfers_per_hour": 20, "max_intent_age_seconds": 300,
        "min_seconds_between_withdrawals": 1, "poll_interval_seconds": 15, "stuck_after_minutes": 60,
        "coins": {
            "USDT": {"max_per_transfer": "1000", "window_cap": "5000", "approval_above": "2500"},
            "BTC": {"max_per_transfer": "0.5", "window_cap": "2"},
        },
    },
    "executor": {"reconcile_grace_seconds": 60, "reconcile_deadline_minutes": 30},
    "destination": [
        {"label": "cold-wallet", "coin": "USDT", "network": "TRX", "address": "TXYZabc123",
         "tag": "12345", "max_per_transfer": "500", "window_cap": "2000", "clients": ["signal"]},
        {"label": "btc.vault_2", "coin": "BTC", "network": "BTC", "address": "bc1qexample"},
    ],
}


# --- a small TOML writer (the standard library only reads TOML) ------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+\Z")


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE.match(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def to_toml(doc: dict[str, Any]) -> str:
    """Top-level scalars, then one line per table or array (inline): same data, tomllib agrees."""
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in doc.items())


def test_the_writer_round_trips_the_valid_document():
    """The writer is right for the base document: tomllib reads back the same data, which is valid."""
    assert tomllib.loads(to_toml(VALID)) == VALID
    assert isinstance(parse_policy(to_toml(VALID), SOURCE), Policy)


# --- the property every document must satisfy ----------------------------------------------

def judge(text: str) -> Policy | PolicyError:
    """parse_policy's answer, checked: a sane Policy, or a one-line PolicyError naming where."""
    try:
        result = parse_policy(text, SOURCE)
    except PolicyError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(SOURCE + ": "), message
        assert exc.code == "policy_invalid"
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            assert exc.key is None and re.search(r"\bline \d+|at end of document", message), message
        else:
            assert exc.key, f"a valid TOML document refused without naming a key: {message}"
            assert message.startswith(f"{SOURCE}: {exc.key}: "), message
        return exc
    assert isinstance(result, Policy)
    check_invariants(result)
    return result


def check_invariants(policy: Policy) -> None:
    limits = policy.limits
    assert limits.poll_interval_seconds >= 6
    assert 1 <= limits.window_hours <= 24 * 366 and 1 <= limits.max_intent_age_seconds <= 86_400
    assert policy.quarantine_hours >= 0 and limits.min_seconds_between_withdrawals >= 0
    for coin, coin_limits in limits.coins.items():
        for amount in (coin_limits.max_per_transfer, coin_limits.window_cap, coin_limits.approval_above):
            assert amount is None or (isinstance(amount, Decimal) and amount.is_finite() and amount > 0)
    labels = [d.label for d in policy.destinations]
    assert len(labels) == len(set(labels))
    for destination in policy.destinations:
        assert destination.coin in limits.coins
        assert destination.address and not any(c.isspace() for c in destination.address)
        for amount in (destination.max_per_transfer, destination.window_cap):
            assert amount is None or (amount.is_finite() and amount > 0)
    assert policy.executor.reconcile_deadline_minutes * 60 > policy.executor.reconcile_grace_seconds


# --- strategies --------------------------------------------------------------------------------

toml_keys = st.one_of(st.sampled_from(["label", "coin", "limits", "coins", "destination", "address",
                                       "window_cap", "USDT", "max_per_transfer", "tag", "clients",
                                       "executor", "quarantine_hours", ""]),
                      st.text(max_size=12))
toml_scalars = st.one_of(
    st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(),
    st.text(max_size=20), st.sampled_from(["1000", "0", "-1", "1e3", "NaN", "0.5", "1.0000000000000000001",
                                           "USDT", "TRX", "cold-wallet", " ", "\u200b", "T\u200bX"]),
    st.datetimes(), st.datetimes(timezones=st.just(datetime.timezone.utc)), st.dates(), st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(toml_keys, inner, max_size=3)),
    max_leaves=10,
)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into the document (dict keys and list indexes)."""
    found = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        found.append(prefix + (key,))
        found += paths(value, prefix + (key,))
    return found


def parent_of(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_documents(draw) -> dict[str, Any]:
    """The valid document with one to three random changes anywhere."""
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        targets = paths(doc)
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent = parent_of(doc, path)
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(toml_keys)] = draw(toml_values)
        elif action == "add":
            parent.append(draw(toml_values))
        else:
            parent[path[-1]] = draw(toml_values)
    return doc


@ci_settings(max_examples=300)
@given(doc=st.dictionaries(toml_keys, toml_values, max_size=6))
def test_random_toml_documents_are_a_policy_or_a_policy_error_naming_the_key(doc):
    """Arbitrary TOML tables: PolicyError naming a key (they are never valid by chance)."""
    judge(to_toml(doc))


@ci_settings(max_examples=400)
@given(doc=mutated_documents())
def test_random_mutations_of_a_valid_file_are_a_policy_or_a_policy_error_naming_the_key(doc):
    """One to three random replacements, deletions or additions anywhere in a valid file."""
    judge(to_toml(doc))


VALID_TEXT = """\
# the treasury's policy
quarantine_hours = 24
allow_trading_key = false
allow_unrestricted_ip = false

[limits]
window_hours = 24
max_transfers_per_hour = 20
max_intent_age_seconds = 300
min_seconds_between_withdrawals = 1
poll_interval_seconds = 15
stuck_after_minutes = 60

[limits.coins.USDT]
max_per_transfer = "1000"
window_cap = "5000"
approval_above = "2500"

[executor]
reconcile_grace_seconds = 60
reconcile_deadline_minutes = 30

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "TXYZabc123"
tag = "12345"
clients = ["signal", "other"]

[[destination]]
label = "hot-wallet"
coin = "USDT"
network = "TRX"
address = "TXYZdef456"
max_per_transfer = "500"
"""


@st.composite
def damaged_texts(draw) -> str:
    """The valid file's text with lines dropped, doubled or swapped, characters inserted,
    or cut short: the kind of damage an editor or a bad copy-paste does."""
    lines = VALID_TEXT.splitlines(keepends=True)
    kind = draw(st.sampled_from(["drop", "double", "swap", "insert", "truncate", "replace_char"]))
    if kind == "drop":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif kind == "double":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    elif kind == "swap":
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    text = "".join(lines)
    if kind == "insert":
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.one_of(st.text(min_size=1, max_size=4),
                                         st.sampled_from(["\x00", "\u200b", "\ufeff", "[", "]", '"', "=", "\n[x]\n",
                                                          "#", "\r", "'''", "\t", "\\"]))) + text[i:]
    elif kind == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif kind == "replace_char":
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.characters()) + text[i + 1:]
    return text


@ci_settings(max_examples=300)
@given(text=damaged_texts())
def test_damaged_policy_text_is_a_policy_or_a_policy_error_naming_key_or_line(text):
    """Lines dropped/doubled/swapped, characters inserted or replaced, the file cut short."""
    judge(text)


@ci_settings(max_examples=200)
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_text_is_a_policy_error_naming_the_line_or_key(text):
    """Text that is mostly not TOML at all."""
    assert isinstance(judge(text), PolicyError)


# --- targeted mutations: the error names exactly the mutated key --------------------------------

REQUIRED = [("limits",), ("limits", "coins"), ("limits", "coins", "USDT", "max_per_transfer"),
            ("limits", "coins", "USDT", "window_cap"), ("destination", 0, "label"),
            ("destination", 0, "coin"), ("destination", 1, "network"), ("destination", 1, "address")]
INT_FIELDS = {("limits", "window_hours"): (1, 8784), ("limits", "max_transfers_per_hour"): (1, None),
              ("limits", "max_intent_age_seconds"): (1, 86_400), ("limits", "poll_interval_seconds"): (6, None),
              ("limits", "stuck_after_minutes"): (1, None), ("executor", "reconcile_grace_seconds"): (1, None)}
NUMBER_FIELDS = [("quarantine_hours",), ("limits", "min_seconds_between_withdrawals")]
AMOUNT_FIELDS = [("limits", "coins", "USDT", "max_per_transfer"), ("limits", "coins", "USDT", "window_cap"),
                 ("limits", "coins", "USDT", "approval_above"), ("limits", "coins", "BTC", "window_cap"),
                 ("destination", 0, "max_per_transfer"), ("destination", 0, "window_cap")]
PATTERN_FIELDS = {("destination", 0, "label"): "label", ("destination", 1, "coin"): "coin",
                  ("destination", 0, "network"): "network", ("destination", 0, "clients", 0): "label"}
BAD_PATTERN = {
    "label": ["", "-cold", "cold wallet", "c\u200bold", "\u0441old", "cold\n", "x" * 65, "cold/wallet"],
    "coin": ["", "usdt", "US DT", "U\u200dSDT", "\uff35SDT", "A" * 21, "USDT\n"],
    "network": ["", "trx", "TR-X", "T\u202eRX", "A" * 33],
}
BAD_AMOUNTS = [1000, 1000.0, float("nan"), float("inf"), True, "-1", "0", "0.0", "1e3", "NaN", "Infinity",
               " 1", "1 ", "+5", "1,000", "\uff11\uff10", "1.0000000000000000001", "9" * 65, "", [], {}]


def key_of(path: tuple) -> str:
    """A path as policy_file names it: `limits.coins.USDT.window_cap`, `destination[0].label`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if _BARE.match(part) else json.dumps(part)
            out += f".{shown}" if out else shown
    return out


def get_at(doc: Any, path: tuple) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def set_at(doc: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent_of(doc, path)[path[-1]] = value
    return doc


def refused_at(doc: dict[str, Any], path: tuple) -> str:
    result = judge(to_toml(doc))
    assert isinstance(result, PolicyError), f"accepted with {key_of(path)} changed"
    assert result.key == key_of(path) or result.key.startswith(key_of(path) + "["), \
        f"{key_of(path)} changed, but the error names {result.key}: {result}"
    return str(result)


@pytest.mark.parametrize("path", REQUIRED, ids=key_of)
def test_a_missing_required_key_is_named(path):
    """Removing a required key: the error names it as missing."""
    doc = copy.deepcopy(VALID)
    del parent_of(doc, path)[path[-1]]
    assert "missing" in refused_at(doc, path)


@ci_settings(max_examples=150)
@given(data=st.data())
def test_an_unknown_key_in_any_table_is_named(data):
    """An added key that no table defines: refused, naming it (even unicode or empty keys)."""
    # Every table but [limits.coins], whose keys are coin names (an added key is a new coin).
    tables = [p for p in [(), *paths(VALID)] if isinstance(get_at(VALID, p), dict) and p != ("limits", "coins")]
    table = data.draw(st.sampled_from(tables))
    key = data.draw(st.one_of(st.sampled_from(["Label", "label ", "addr", "\u200blabel", "max-per-transfer",
                                               "window_caps", "", "approval"]), st.text(max_size=10)))
    if key in get_at(VALID, table):
        return
    doc = copy.deepcopy(VALID)
    get_at(doc, table)[key] = data.draw(toml_scalars)
    assert "unknown key" in refused_at(doc, table + (key,))


@ci_settings(max_examples=200)
@given(data=st.data())
def test_a_wrong_typed_or_out_of_range_integer_is_named(data):
    """Integers given as strings, floats, booleans, tables, or outside their range."""
    path, (low, high) = data.draw(st.sampled_from(sorted(INT_FIELDS.items())))
    bad = data.draw(st.one_of(
        st.sampled_from(["15", 15.0, 1e3, float("nan"), True, [15], {"value": 15}, datetime.date(2024, 1, 1)]),
        st.integers(max_value=low - 1, min_value=-2**63),
        st.integers(min_value=high + 1, max_value=2**63 - 1) if high else st.nothing(),
    ))
    refused_at(set_at(VALID, path, bad), path)


@ci_settings(max_examples=100)
@given(data=st.data())
def test_a_bad_non_amount_number_is_named(data):
    """quarantine_hours and min_seconds_between_withdrawals: numbers, finite, >= 0."""
    path = data.draw(st.sampled_from(NUMBER_FIELDS))
    bad = data.draw(st.one_of(st.sampled_from(["1", float("nan"), float("inf"), -0.5, -1, True, [1]]),
                              st.floats(max_value=-1e-9), st.integers(max_value=-1, min_value=-2**63)))
    refused_at(set_at(VALID, path, bad), path)


@ci_settings(max_examples=150)
@given(path=st.sampled_from(AMOUNT_FIELDS), bad=st.sampled_from(BAD_AMOUNTS))
def test_a_bad_amount_is_named(path, bad):
    """Amounts are positive decimal strings: floats, integers, signs, exponents, NaN are refused."""
    refused_at(set_at(VALID, path, bad), path)


@ci_settings(max_examples=150)
@given(data=st.data())
def test_a_bad_label_coin_network_or_client_name_is_named(data):
    """Homoglyphs, zero-width characters, lower case, spaces, newlines, over-long names."""
    path, kind = data.draw(st.sampled_from(sorted(PATTERN_FIELDS.items(), key=lambda item: key_of(item[0]))))
    bad = data.draw(st.sampled_from(BAD_PATTERN[kind]))
    refused_at(set_at(VALID, path, bad), path)


@pytest.mark.parametrize("address", ["TXYZ abc", "TXYZ\u200babc", "\ufeffTXYZ", "TXYZ\n", "TX\x00YZ", "",
                                     "TXYZ\u202eabc", "\tTXYZ"])
def test_an_address_with_hidden_characters_is_named(address):
    """An address must read the same to the operator as to the exchange."""
    refused_at(set_at(VALID, ("destination", 1, "address"), address), ("destination", 1, "address"))


def test_a_duplicate_label_and_a_coin_without_limits_are_named():
    """Across tables: the second `cold-wallet`, and a destination coin with no [limits.coins.X]."""
    refused_at(set_at(VALID, ("destination", 1, "label"), "cold-wallet"), ("destination", 1, "label"))
    refused_at(set_at(VALID, ("destination", 1, "coin"), "ETH"), ("destination", 1, "coin"))
