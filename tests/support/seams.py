"""Proving a test double (or a real adapter) is a whole implementation of a `Protocol` seam.

`isinstance` against a `runtime_checkable` Protocol only proves each member exists. This
also checks what a call through the seam relies on: every method takes the Protocol's
parameters by the same names and kinds (a keyword-only parameter may also be positional),
keeps a default wherever the Protocol has one, and adds only parameters with defaults;
every property (or attribute) holds a value of the type the Protocol names.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

_KEYWORD_OK = {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
_EXTRA_OK = {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}


def protocol_members(protocol: type) -> dict[str, Any]:
    """The members a Protocol declares itself or inherits from Protocols above it."""
    members: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass in (object, typing.Protocol, typing.Generic) or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and (callable(value) or isinstance(value, property)):
                members[name] = value
    return members


def mismatches(double: object, protocol: type) -> list[str]:
    """What `double` lacks or gets wrong against `protocol`; empty when it implements it whole."""
    problems: list[str] = []
    if not isinstance(double, protocol):
        problems.append(f"not an instance of {protocol.__name__} (a member is missing)")
    for name, member in protocol_members(protocol).items():
        if not hasattr(double, name):
            problems.append(f"{name}: missing")
        elif isinstance(member, property):
            expected = typing.get_type_hints(member.fget).get("return")
            value = getattr(double, name)
            if isinstance(expected, type) and not isinstance(value, expected):
                problems.append(f"{name}: {type(value).__name__}, not {expected.__name__}")
        else:
            problems += [f"{name}: {p}" for p in _signature_mismatches(member, getattr(double, name))]
    return problems


def _signature_mismatches(wanted: Any, given: Any) -> list[str]:
    if not callable(given):
        return ["not callable"]
    want = dict(list(inspect.signature(wanted).parameters.items())[1:])   # without self
    have = inspect.signature(given).parameters                             # bound: no self
    problems = []
    for name, param in want.items():
        got = have.get(name)
        if got is None:
            problems.append(f"no parameter {name!r}")
        elif got.kind != param.kind and not (param.kind in _KEYWORD_OK and got.kind in _KEYWORD_OK):
            problems.append(f"parameter {name!r} is {got.kind.description}, not {param.kind.description}")
        elif param.default is not inspect.Parameter.empty and got.default is inspect.Parameter.empty:
            problems.append(f"parameter {name!r} has no default")
    for name, got in have.items():
        if name not in want and got.kind not in _EXTRA_OK and got.default is inspect.Parameter.empty:
            problems.append(f"extra parameter {name!r} without a default")
    return problems
