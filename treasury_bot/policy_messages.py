"""The policy loader's wording: key paths, values shown as in TOML, msgspec's errors in the file's words."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import msgspec
from msgspec import Struct

from common.messages import Coin, Label, Network
from treasury_bot.policy_model import CLIENT_NAME_PATTERN

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


class Invalid(Exception):
    """One problem at one key; policy_file turns it into a PolicyError naming the file."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, problem)
        self.key = key
        self.problem = problem


def pattern_of(annotated: Any) -> str:
    return str(get_args(annotated)[1].pattern)


DESCRIBED_PATTERNS = {
    pattern_of(Coin): 'a coin symbol like "USDT" (1-20 of A-Z 0-9)',
    pattern_of(Network): 'a network name like "TRX" (1-32 of A-Z 0-9 _)',
    # Label and ClientName share one grammar, hence one description.
    pattern_of(Label): "a name of 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit",
    CLIENT_NAME_PATTERN: "a name of 1-64 letters, digits, '_', '.' or '-' starting with a letter or digit",
}


# --- step 3: msgspec, its errors reworded ----------------------------------------------

_MSGSPEC_ERROR = re.compile(r"(?s)(?P<body>.*?)(?: - at `\$(?P<path>[^`]*)`)?\Z")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_TYPE_NAMES = {
    "int": "an integer", "str": "a string", "bool": "true or false", "object": "a table",
    "array": "an array", "float": "a float", "decimal": "a number", "null": "nothing",
}
_GOT_NAMES = {"str": "string", "int": "integer", "bool": "boolean", "object": "table"}
_HINTS = {
    "limits.poll_interval_seconds":
        " (withdraw history costs 18,000 UID weight: poll no faster than every 6 s)",
    "destination": " (write each one as a [[destination]] table)",
}


def convert(value: Any, struct: type[Struct], path: str) -> Any:
    try:
        return msgspec.convert(value, struct)
    except msgspec.ValidationError as exc:
        match = _MSGSPEC_ERROR.match(str(exc))
        assert match is not None  # the pattern matches any text
        relative = match["path"] or ""
        key = (path + relative).lstrip(".")
        problem = _describe(match["body"], _value_at(value, relative))
        raise Invalid(key, problem + _HINTS.get(key, "")) from None


def _describe(body: str, value: Any) -> str:
    if m := re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", body):
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in m[1].split(" | ") if t != "null")
        return f"expected {expected}, got {_GOT_NAMES.get(m[2], m[2])}"
    if m := re.fullmatch(r"Expected `[^`]+` (>=|<=|>|<) (\S+)", body):
        return f"must be {m[1]} {m[2]}, got {show(value)}"
    if m := re.fullmatch(r"(?s)Expected `str` matching regex (.*)", body):
        described = {repr(pattern): text for pattern, text in DESCRIBED_PATTERNS.items()}
        return f"{show(value)} is not {described.get(m[1], 'matching ' + m[1])}"
    return body[:1].lower() + body[1:]


def _value_at(value: Any, relative_path: str) -> Any:
    for name, index in _PATH_PART.findall(relative_path):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return value


# --- message helpers ------------------------------------------------------------------

def key_path(path: str, key: str) -> str:
    shown = key if _BARE_KEY.match(key) else json.dumps(key)
    return f"{path}.{shown}" if path else shown


def show(value: Any) -> str:
    """A value as it would be written in TOML, on one line, bounded."""
    text = json.dumps(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    names = {int: "integer", float: "float", str: "string", dict: "table", list: "array"}
    return names.get(type(value), type(value).__name__)


def one_line(text: str) -> str:
    return "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)
