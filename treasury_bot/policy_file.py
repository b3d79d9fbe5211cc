"""The treasury's policy file (docs/design.md section 3): TOML, read at start, validated strictly.

The file's shape, its keys, defaults and ranges: treasury_bot/policy_model.py.

Checks, in the order they are made (the first failure stops the load):
1. TOML syntax (tomllib; the message gives the line and column); the file must be UTF-8.
2. Table by table, top-down: unknown keys, missing keys, amounts (strings, wire grammar,
   > 0), non-amount decimals (TOML numbers, finite, >= 0), coin names of [limits.coins.X];
   each coin table is then decoded on its own so that errors name the coin.
3. msgspec, strict: types, integer ranges, the wire patterns of common/messages.py.
4. Across tables: duplicate labels, a destination whose coin has no limits table,
   addresses and tags, duplicate clients, the executor's deadline against its grace.

Every failure is a PolicyError whose one-line message is ``FILE: KEY.PATH: problem``,
e.g. ``treasury.toml: limits.coins.USDT.window_cap: expected a decimal string like
"5000", got float (write amounts as strings, e.g. "1000")``. The parsed Policy is
immutable: frozen structs, tuples, and a read-only mapping for the coins.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from treasury_bot.policy_messages import Invalid, convert, one_line, toml_type
from treasury_bot.policy_model import Policy
from treasury_bot.policy_tables import check_across, frozen, precheck


class PolicyError(Exception):
    """The policy file cannot be used; the message is one line: ``FILE: KEY: problem``."""

    code = "policy_invalid"

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        self.source = one_line(source)
        self.key = one_line(key) if key else None
        self.problem = one_line(problem)
        where = f"{self.source}: {self.key}" if self.key else self.source
        super().__init__(f"{where}: {self.problem}")


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    sha256: str  # hex digest of the file's bytes, journaled to detect a change
    path: Path


def load_policy(path: str | os.PathLike[str]) -> LoadedPolicy:
    """Read, hash and validate the policy file; any failure is a PolicyError naming it."""
    source = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(source, None, f"cannot read the policy file: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(source, None, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return LoadedPolicy(parse_policy(text, source), hashlib.sha256(data).hexdigest(), Path(path))


def parse_policy(text: str, source: str = "treasury.toml") -> Policy:
    """Parse and validate a policy document; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, None, f"invalid TOML: {exc}") from None
    return policy_from_dict(data, source)


def policy_from_dict(data: dict[str, Any], source: str = "treasury.toml") -> Policy:
    """Validate an already parsed TOML document (as tomllib returns it)."""
    if not isinstance(data, dict):
        raise PolicyError(source, None, f"expected a table, got {toml_type(data)}")
    try:
        precheck(data)
        policy = convert(data, Policy, "")
        check_across(policy)
    except Invalid as exc:
        raise PolicyError(source, exc.key, exc.problem) from None
    return frozen(policy)


# --- checks that need the environment (docs/design.md section 9) -----------------------------

def check_for_exchange(loaded: LoadedPolicy, base_url: str) -> LoadedPolicy:
    """`quarantine_hours = 0` only against a loopback exchange (the sandbox): the same rule
    as TREASURY_SANDBOX_POLL_SECONDS (common/config/). With no quarantine, an edited
    file could redirect funds at the next start (issue 10 defect 5)."""
    from urllib.parse import urlsplit

    from common.config import is_loopback_host  # the one definition of "loopback host"

    if loaded.policy.quarantine_hours == 0 and not is_loopback_host(urlsplit(base_url).hostname or ""):
        raise PolicyError(str(loaded.path), "quarantine_hours",
                          "0 is only allowed with a loopback BINANCE_BASE_URL (the sandbox): "
                          "new and loosened settings need a quarantine above 0 (default 24)")
    from treasury_bot.policy_model import WATCH_FLOOR_S
    if loaded.policy.watch.every_seconds < WATCH_FLOOR_S and not is_loopback_host(urlsplit(base_url).hostname or ""):
        raise PolicyError(str(loaded.path), "watch.every_seconds",
                          f"under {WATCH_FLOOR_S} is only allowed with a loopback BINANCE_BASE_URL (the sandbox): "
                          "each pass costs 18000 of the account's 180000 UID weight a minute")
    return loaded


def load_policy_for(path: str | os.PathLike[str], base_url: str) -> LoadedPolicy:
    """load_policy, then the checks that depend on which exchange it is used against."""
    return check_for_exchange(load_policy(path), base_url)
