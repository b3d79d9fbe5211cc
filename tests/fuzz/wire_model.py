"""An independent model of the wire contract (DESIGN section 2) and of the first policy rules.

The fuzzers judge the treasury's replies against this model, written from DESIGN's text
and not from common/messages.py: the patterns below are DESIGN's, re-typed here, so a
decoder that drifts from the contract disagrees with the model instead of with itself.

Two deliberate bounds the implementation adds to DESIGN's grammar are modelled as such
(both are "lengths ... the schema can judge alone"): an amount string is at most 64
characters, and `created_at` is an integer in 0..2**53.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from demo.policy_text import CoinTable, DestinationTable, policy_toml

# DESIGN section 2, field by field (fullmatch: `$` there means the end of the text).
INTENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,36}")
COIN_RE = re.compile(r"[A-Z0-9]{1,20}")
NETWORK_RE = re.compile(r"[A-Z0-9_]{1,32}")
LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]{1,18})?")
MAX_AMOUNT_CHARS = 64
MAX_REASON_CHARS = 200
MAX_MILLIS = 2**53
MAX_FRAME_BYTES = 64 * 1024

REQUEST_FIELDS = {
    "transfer_intent": ("intent_id", "coin", "network", "destination", "amount", "reason", "created_at"),
    "intent_status": ("intent_id",),
    "ping": (),
}

# What a frame must get back.
MALFORMED = "malformed"
UNKNOWN_TYPE = "unknown_type"
VALID = "valid"        # well-formed: a decision, an intent_state/unknown_intent, or a pong
DROPPED = "dropped"    # no reply at all (over 64 KiB, or a DEALER frame without delimiter)


def _is_text(value: Any, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def amount_ok(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= MAX_AMOUNT_CHARS
            and AMOUNT_RE.fullmatch(value) is not None and Decimal(value) > 0)


def millis_ok(value: Any) -> bool:
    # msgpack keeps booleans apart from integers; Python does not.
    return type(value) is int and 0 <= value <= MAX_MILLIS


FIELD_CHECKS = {
    "intent_id": lambda v: _is_text(v, INTENT_ID_RE),
    "coin": lambda v: _is_text(v, COIN_RE),
    "network": lambda v: _is_text(v, NETWORK_RE),
    "destination": lambda v: _is_text(v, LABEL_RE),
    "amount": amount_ok,
    "reason": lambda v: isinstance(v, str) and len(v) <= MAX_REASON_CHARS,
    "created_at": millis_ok,
}


def classify_object(obj: Any) -> str:
    """MALFORMED, UNKNOWN_TYPE or VALID for a decoded MessagePack value."""
    if not isinstance(obj, dict) or not all(isinstance(key, str) for key in obj):
        return MALFORMED
    kind = obj.get("type")
    if not isinstance(kind, str):          # missing, nil or not a string
        return MALFORMED
    if kind not in REQUEST_FIELDS:
        return UNKNOWN_TYPE
    fields = REQUEST_FIELDS[kind]
    if set(obj) != {"type", *fields}:      # a missing or an unknown field
        return MALFORMED
    if not all(FIELD_CHECKS[name](obj[name]) for name in fields):
        return MALFORMED
    return VALID


# A frame that nests deeper than this may meet the decoder's recursion limit, which depends
# on how deep the server's own stack already is: `malformed` is then a right answer too.
DEEP_NESTING = 200


def nesting_depth(obj: Any) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack += [(value, depth + 1) for value in item.values()]
        elif isinstance(item, (list, tuple)):
            stack += [(value, depth + 1) for value in item]
    return deepest


def classify_frame(payload: bytes) -> tuple[str, Any]:
    """The expectation for one payload frame, and the decoded value when it decodes."""
    if len(payload) > MAX_FRAME_BYTES:
        return DROPPED, None
    try:
        obj = msgspec.msgpack.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return MALFORMED, None
    except TypeError:  # e.g. a map key msgpack allows but Python cannot hash (an array)
        return MALFORMED, None
    return classify_object(obj), obj


# --- the policy the in-process fuzz server runs, and its reference decisions -------------

COLD = "cold-wallet"        # every client; max 900; approval above 800 (the coin's)
HOT = "hot-wallet"          # client "other" only; the coin's max 1000
FUZZ_COIN_MAX = Decimal("1000")
FUZZ_COLD_MAX = Decimal("900")
FUZZ_APPROVAL_ABOVE = Decimal("800")
EXCHANGE_MIN = Decimal("10")        # tests.support.treasury.TRX_RULE
EXCHANGE_MAX = Decimal("100000")
EXCHANGE_STEP = Decimal("0.000001")
MAX_AGE_MS = 300_000
MAX_FUTURE_MS = 30_000
FUZZ_NOW_MS = 1_700_000_000_000   # the in-process server's fake clock
UNREACHED_PER_HOUR = 100_000_000            # rule 9 never binds
UNREACHED_WINDOW_CAP = Decimal("100000000000000000000")   # nor rule 10
# Most fuzzed frames are refused on purpose: the client_rejections breaker (issue 13) would
# freeze the treasury and every later answer would be `frozen`; it has its own tests.
UNREACHED_REJECTIONS = 1_000_000


def fuzz_policy_toml(cold_address: str, hot_address: str) -> str:
    """Rules 9 and 10 (hourly count, window caps) never bind: every decision is a pure
    function of the intent, the client and the clock, so the model can predict it."""
    return policy_toml(
        [DestinationTable(COLD, cold_address, max_per_transfer=FUZZ_COLD_MAX),
         DestinationTable(HOT, hot_address, clients=("other",))],
        coins={"USDT": CoinTable(FUZZ_COIN_MAX, UNREACHED_WINDOW_CAP, FUZZ_APPROVAL_ABOVE)},
        max_transfers_per_hour=UNREACHED_PER_HOUR, client_rejections=UNREACHED_REJECTIONS)


@dataclass(frozen=True)
class Expected:
    outcome: str
    reason_code: str | None
    status: str


def reference_decision(obj: dict[str, Any], client: str, now_ms: int) -> Expected:
    """DESIGN section 3, rules 2..8 and 11, for the fuzz policy (rules 6, 9, 10 never bind)."""
    def rejected(code: str) -> Expected:
        return Expected("rejected", code, "denied")

    age = now_ms - obj["created_at"]
    if age > MAX_AGE_MS or -age > MAX_FUTURE_MS:
        return rejected("stale_intent")
    label = obj["destination"]
    if label not in (COLD, HOT):
        return rejected("unknown_destination")
    if label == HOT and client != "other":
        return rejected("client_not_allowed")
    if (obj["coin"], obj["network"]) != ("USDT", "TRX"):
        return rejected("coin_network_mismatch")
    amount = Decimal(obj["amount"])
    if amount < EXCHANGE_MIN:
        return rejected("below_exchange_minimum")
    if amount > EXCHANGE_MAX:
        return rejected("above_exchange_maximum")
    if amount % EXCHANGE_STEP != 0:
        return rejected("not_a_multiple")
    if amount > FUZZ_COIN_MAX or (label == COLD and amount > FUZZ_COLD_MAX):
        return rejected("over_transfer_limit")
    if amount > FUZZ_APPROVAL_ABOVE:
        return Expected("pending_approval", "approval_required", "pending_approval")
    return Expected("accepted", None, "queued")


def content_of(obj: dict[str, Any]) -> tuple:
    """What makes two sendings the same intent (DESIGN: "20.000" equals "20")."""
    return (obj["coin"], obj["network"], obj["destination"], Decimal(obj["amount"]),
            obj["reason"], obj["created_at"])


def pending_only_policy_toml(cold_address: str, hot_address: str) -> str:
    """For a real `treasury-bot run`: every intent the policy lets through waits for the
    operator (approval_above is the smallest amount), so the executor never runs and the
    decider is the only writer of the journal tables the fuzzers count."""
    return policy_toml(
        [DestinationTable(COLD, cold_address), DestinationTable(HOT, hot_address, clients=("other",))],
        coins={"USDT": CoinTable(FUZZ_COIN_MAX, UNREACHED_WINDOW_CAP, "0.000000000000000001")},
        max_transfers_per_hour=UNREACHED_PER_HOUR, poll_interval_seconds=60, stuck_after_minutes=100_000,
        client_rejections=UNREACHED_REJECTIONS)
