"""Hypothesis strategies for request frames: valid, nearly valid, and every kind of bad.

Each strategy draws a `Case`: the payload frames a client sends after the empty
delimiter, which client sends them, and a category for the counts. What the treasury
must answer is not decided here but by `wire_model.classify_frame` (and, for intents
that are well formed, by the reference policy), so a strategy may wander into valid
territory without lying about it: "00.5" is a valid amount, "coIl-wallet" a valid label.

Strategies take `now_ms` (the server's clock) so that `created_at` lands on both sides
of the age limits, boundaries included.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.fuzz import wire_model as model

CLIENTS = ("signal", "other")


def ci_settings(max_examples: int) -> settings:
    """Deterministic and bounded: the same examples on every run, no example database."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    print_blob=True, suppress_health_check=list(HealthCheck))


@dataclass(frozen=True)
class Case:
    category: str
    frames: tuple[bytes, ...]        # payload frames, after the empty delimiter
    client: str = "signal"
    delimiter: bool = True           # False: a DEALER that forgot the empty frame

    def expectation(self) -> tuple[str, Any]:
        """(wire_model verdict, decoded object or None) for this whole message."""
        if not self.delimiter or not self.frames:
            return model.DROPPED, None
        if any(len(frame) > model.MAX_FRAME_BYTES for frame in self.frames):
            return model.DROPPED, None  # libzmq drops the peer: MAXMSGSIZE bounds each frame
        if len(self.frames) != 1:
            return model.MALFORMED, None
        return model.classify_frame(self.frames[0])


def cached(factory):
    """Build each strategy once: Hypothesis validates a strategy object the first time it
    is drawn from, which costs more than the draw itself when repeated per example."""
    return functools.lru_cache(maxsize=None)(factory)


def encode(obj: Any) -> bytes:
    return msgspec.msgpack.encode(obj)


# --- building blocks -------------------------------------------------------------------

# Characters that look like, or hide inside, the ASCII the patterns allow.
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "p": "\u0440",
              "l": "\u04cf", "A": "\u0391", "T": "\u0422", "U": "\u0426", "S": "\u0405",
              "-": "\u2010", "0": "\u041e", "1": "\u0661", "_": "\uff3f"}
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e", "\u202d", "\u2066",
              "\u00ad", "\u0301", "\x00", "\n", "\r", "\t", " ", "\u00a0", "\u3000", "\x7f"]
FULLWIDTH_DIGITS = str.maketrans("0123456789.", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff0e")
ARABIC_DIGITS = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


@st.composite
def unicode_trick(draw, text: str) -> str:
    """One trick played on a (valid) identifier: it should now be refused, unless the trick
    happened to keep it inside the ASCII grammar (the model decides)."""
    trick = draw(st.sampled_from(["homoglyph", "invisible", "append", "fullwidth", "case",
                                  "nfkc", "lookalike_ascii", "rtl_wrap"]))
    if trick == "homoglyph":
        spots = [i for i, ch in enumerate(text) if ch in HOMOGLYPHS]
        if spots:
            i = draw(st.sampled_from(spots))
            return text[:i] + HOMOGLYPHS[text[i]] + text[i + 1:]
        return "\u0430" + text
    if trick == "invisible":
        i = draw(st.integers(0, len(text)))
        return text[:i] + draw(st.sampled_from(INVISIBLES)) + text[i:]
    if trick == "append":
        return text + draw(st.sampled_from(["\n", "\r\n", "\x00", " ", "\u200d", "\t"]))
    if trick == "fullwidth":
        return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
    if trick == "case":
        return text.swapcase()
    if trick == "nfkc":
        return text.replace("fi", "\ufb01").replace("l", "\u2113") + "\u2167"
    if trick == "lookalike_ascii":   # still ASCII: may stay valid, and must then be a decision
        return text.replace("l", "I").replace("o", "0") or "I"
    return "\u202e" + text[::-1] + "\u202c"


@cached
def ascii_ids(max_size: int = 36):
    return st.from_regex(r"[A-Za-z0-9_-]{1,%d}" % max_size, fullmatch=True)


COIN_TEXT = st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True)
NETWORK_TEXT = st.from_regex(r"[A-Z0-9_]{1,32}", fullmatch=True)
LABEL_TEXT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True)


@cached
@st.composite
def intent_ids(draw) -> str:
    """Mostly fresh (UUIDs fit the pattern); now and then one of a few shared ids, so that
    replays and conflicts (rule 1) happen between examples."""
    if draw(st.integers(0, 9)) == 9:
        return draw(st.sampled_from([f"dup-{n}" for n in range(4)]))
    return draw(st.one_of(st.uuids().map(str), st.uuids().map(lambda u: u.hex), ascii_ids()))


@cached
@st.composite
def valid_amounts(draw) -> str:
    """Decimal strings in DESIGN's grammar, around every threshold of the fuzz policy."""
    kind = draw(st.sampled_from(["edge", "range", "tiny", "huge", "padded"]))
    if kind == "edge":
        return draw(st.sampled_from([
            "10", "9.999999", "10.000000", "800", "800.000001", "800.0000001", "900", "900.000001",
            "1000", "1000.000001", "100000", "100000.000001", "25.5", "0.000000000000000001",
            "00010", "0010.50", "99999.999999", "20.000", "20"]))
    if kind == "range":
        places = draw(st.integers(0, 18))
        value = draw(st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("2000"),
                                 places=places, allow_nan=False, allow_infinity=False))
        text = format(value, "f")
        return text if Decimal(text) > 0 else "1"
    if kind == "tiny":
        return "0." + "0" * draw(st.integers(0, 16)) + "1"
    if kind == "huge":
        return "9" * draw(st.integers(6, 64))
    digits = draw(st.integers(1, 990))
    return f"{digits}." + "0" * draw(st.integers(1, 18))


@cached
@st.composite
def created_at(draw, now_ms: int) -> int:
    offset = draw(st.one_of(
        st.sampled_from([0, -model.MAX_AGE_MS, -model.MAX_AGE_MS - 1, model.MAX_FUTURE_MS,
                         model.MAX_FUTURE_MS + 1, -1, 1]),
        st.integers(-2 * model.MAX_AGE_MS, 2 * model.MAX_FUTURE_MS),
        st.integers(-model.MAX_AGE_MS, 0),
    ))
    return max(0, now_ms + offset)


@cached
@st.composite
def valid_intent(draw, now_ms: int) -> dict[str, Any]:
    """A transfer_intent the schema accepts; the policy may still refuse it."""
    if draw(st.sampled_from(["plausible", "plausible", "wild"])) == "plausible":
        return {   # what a client would send: only the amount and the age vary
            "type": "transfer_intent",
            "intent_id": draw(intent_ids()),
            "coin": "USDT", "network": "TRX",
            "destination": draw(st.sampled_from([model.COLD, model.HOT])),
            "amount": draw(st.one_of(valid_amounts(), st.integers(10, 1000).map(str),
                                     st.integers(790, 1010).map(str))),
            "reason": draw(st.text(max_size=40)),
            "created_at": now_ms - draw(st.integers(-model.MAX_FUTURE_MS, model.MAX_AGE_MS)),
        }
    return {
        "type": "transfer_intent",
        "intent_id": draw(intent_ids()),
        "coin": draw(st.one_of(st.just("USDT"), st.just("USDT"),
                               COIN_TEXT)),
        "network": draw(st.one_of(st.just("TRX"), st.just("TRX"),
                                  NETWORK_TEXT)),
        "destination": draw(st.one_of(st.sampled_from([model.COLD, model.COLD, model.HOT]),
                                      LABEL_TEXT)),
        "amount": draw(valid_amounts()),
        "reason": draw(st.one_of(st.text(max_size=40), st.text(max_size=200),
                                 st.just("x" * 200), st.just("\u202eesrever\u202c"),
                                 st.just("sweep\x00nul"), st.just("\U0001F600" * 200))),
        "created_at": draw(created_at(now_ms)),
    }


def ordered(draw, obj: dict[str, Any]) -> dict[str, Any]:
    """The same map with its keys in a drawn order (the tag need not come first)."""
    keys = draw(st.permutations(list(obj)))
    return {key: obj[key] for key in keys}


# Values of every MessagePack type, bounded in size and depth.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**63, max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(width=32),
    st.text(max_size=30), st.binary(max_size=30),
    st.builds(msgspec.msgpack.Ext, st.integers(-128, 127), st.binary(max_size=16)),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
)
any_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-2**63, 2**64 - 1), st.binary(max_size=4)),
                                            inner, max_size=4)),
    max_leaves=12,
)


@cached
@st.composite
def amount_mutation(draw) -> Any:
    """Amounts that are not positive finite decimal strings (and a few that are)."""
    return draw(st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([float("nan"), float("inf"), float("-inf"), 100.5, 1e3, -0.0, 1e-7]),
        st.integers(min_value=-2**63, max_value=2**64 - 1),
        st.sampled_from(["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "Inf", "-1", "-0",
                         "+1", "1e3", "1E3", "1e-3", "1.5e2", "0", "0.0", "0.", ".5", "5.",
                         " 1", "1 ", "1\n", "\t1", "1_000", "0x1F", "1,5", "1.0000000000000000001",
                         "", "-", ".", "1..2", "1.2.3", "0e0", "\uff11\uff10\uff10", "\u0661\u0660\u0660",
                         "1" * 65, "9" * 60 + ".123", "100\x00", "\u200d100", "１"]),
        st.builds(lambda d: str(d), st.decimals(allow_nan=True, allow_infinity=True)),
        st.builds(lambda text: text.translate(FULLWIDTH_DIGITS), valid_amounts()),
        st.builds(lambda text: text.translate(ARABIC_DIGITS), valid_amounts()),
        st.builds(lambda d: d.encode(), valid_amounts()),          # bin instead of str
        st.builds(msgspec.msgpack.Ext, st.integers(-128, 127), st.binary(max_size=8)),
        st.builds(Decimal, valid_amounts()),                        # msgspec writes it as a str
    ))


@st.composite
def field_mutation(draw, name: str, value: Any) -> Any:
    """One field's value made wrong (or, now and then, harmlessly different)."""
    kind = draw(st.sampled_from(["type", "type", "bin", "unicode", "length", "nested", "ext", "any"]
                                + (["amount"] * 4 if name == "amount" else [])
                                + (["millis"] * 3 if name == "created_at" else [])))
    if kind == "amount":
        return draw(amount_mutation())
    if kind == "millis":
        return draw(st.one_of(st.sampled_from([-1, 2**53, 2**53 + 1, 2**63 - 1, 2**64 - 1, -2**63, True, False]),
                              st.floats(), st.builds(str, st.integers(0, 2**53))))
    if kind == "bin":
        return value.encode() if isinstance(value, str) else str(value).encode()
    if kind == "unicode" and isinstance(value, str):
        return draw(unicode_trick(value))
    if kind == "length":
        return draw(st.sampled_from(["", "A" * 37, "A" * 65, "9" * 21, "x" * 201, "\U0001F600" * 201]))
    if kind == "nested":
        return draw(st.one_of(st.dictionaries(st.text(max_size=5), any_values, min_size=1, max_size=3),
                              st.lists(any_values, min_size=1, max_size=3),
                              st.just({"value": value}), st.just([value])))
    if kind == "ext":
        return draw(st.one_of(st.builds(msgspec.msgpack.Ext, st.integers(-128, 127), st.binary(max_size=8)),
                              st.datetimes(timezones=st.just(datetime.timezone.utc))))
    if kind == "type":
        return draw(st.sampled_from([None, 0, 1, -1, 1.5, True, [], {}, b""]))
    return draw(any_values)


# --- the categories ------------------------------------------------------------------------

@cached
@st.composite
def valid_cases(draw, now_ms: int) -> Case:
    client = draw(st.sampled_from(CLIENTS))
    kind = draw(st.sampled_from(["intent"] * 6 + ["status", "ping"]))
    if kind == "intent":
        obj = draw(valid_intent(now_ms))
    elif kind == "status":
        obj = {"type": "intent_status", "intent_id": draw(st.one_of(
            intent_ids(), st.sampled_from([f"dup-{n}" for n in range(4)])))}
    else:
        obj = {"type": "ping"}
    return Case("valid", (encode(ordered(draw, obj)),), client)


@cached
@st.composite
def nearly_valid_cases(draw, now_ms: int) -> Case:
    """A valid request with exactly one thing changed: a field's value, or a field gone or added."""
    obj = draw(st.one_of(valid_intent(now_ms), st.builds(lambda i: {"type": "intent_status", "intent_id": i},
                                                         intent_ids())))
    action = draw(st.sampled_from(["mutate"] * 6 + ["drop", "add"]))
    fields = [name for name in obj if name != "type"]
    if action == "drop":
        del obj[draw(st.sampled_from(fields))]
    elif action == "add":
        key = draw(st.one_of(st.sampled_from(["address", "Amount", "amount ", "type2", "", "\u200damount",
                                              "withdrawOrderId", "network\x00"]), st.text(max_size=10)))
        if key not in obj:
            obj[key] = draw(any_values)
    else:
        name = draw(st.sampled_from(fields))
        obj[name] = draw(field_mutation(name, obj[name]))
    return Case("nearly_valid", (encode(ordered(draw, obj)),), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def amount_cases(draw, now_ms: int) -> Case:
    """Floats, NaN, Infinity, signs, exponents, foreign digits, bin and ext in `amount`."""
    obj = draw(valid_intent(now_ms))
    obj["amount"] = draw(amount_mutation())
    return Case("amount", (encode(ordered(draw, obj)),), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def unicode_cases(draw, now_ms: int) -> Case:
    """Homoglyphs, zero-width joiners, RTL overrides, NUL, trailing newlines in ids and labels."""
    obj = draw(valid_intent(now_ms))
    name = draw(st.sampled_from(["intent_id", "destination", "coin", "network", "destination", "intent_id"]))
    obj[name] = draw(unicode_trick(obj[name]))
    return Case("unicode", (encode(ordered(draw, obj)),), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def wrong_tag_cases(draw, now_ms: int) -> Case:
    obj = draw(st.one_of(valid_intent(now_ms), st.just({"type": "ping"})))
    tag = draw(st.one_of(
        st.sampled_from(["Ping", "PING", "ping ", " ping", "ping\n", "ping\x00", "p\u0456ng", "\uff50\uff49\uff4e\uff47",
                         "transfer-intent", "transferIntent", "transfer_intent\u200d", "intent", "decision",
                         "pong", "error", "withdraw", "", "approve", "intent_state"]),
        st.text(max_size=20),
        st.sampled_from([None, 1, 0, True, 1.5, b"ping", b"transfer_intent", ["ping"], {"t": "ping"}]),
        st.just(msgspec.UNSET),   # the tag removed
    ))
    if tag is msgspec.UNSET:
        del obj["type"]
    else:
        obj["type"] = tag
    return Case("wrong_tag", (encode(ordered(draw, obj)),), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def structure_cases(draw, now_ms: int) -> Case:
    """Not a map, maps with non-string keys, nested maps, ext and bin where maps belong."""
    shape = draw(st.sampled_from(["any", "list", "nonstr_key", "nested", "scalar"]))
    if shape == "any":
        value = draw(any_values)
    elif shape == "list":
        value = draw(st.lists(any_values, max_size=4))
    elif shape == "nonstr_key":
        obj = draw(valid_intent(now_ms))
        obj[draw(st.one_of(st.integers(-2**63, 2**64 - 1), st.binary(max_size=6), st.booleans(), st.floats()))] = draw(any_values)
        value = obj
    elif shape == "nested":
        value = {"type": draw(st.sampled_from(["transfer_intent", "ping", "intent_status"])),
                 "request": draw(valid_intent(now_ms))}
    else:
        value = draw(scalars)
    return Case("structure", (encode(value),), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def garbage_cases(draw, now_ms: int) -> Case:
    """Bytes: random, or a valid frame truncated, flipped, grown, or made to nest deeply."""
    kind = draw(st.sampled_from(["random", "truncate", "flip", "insert", "bad_utf8", "deep", "trailing"]))
    valid = encode(draw(st.one_of(valid_intent(now_ms), st.just({"type": "ping"}))))
    if kind == "random":
        frame = draw(st.binary(min_size=0, max_size=300))
    elif kind == "truncate":
        frame = valid[:draw(st.integers(0, len(valid) - 1))]
    elif kind == "flip":
        i = draw(st.integers(0, len(valid) - 1))
        frame = valid[:i] + bytes([draw(st.integers(0, 255))]) + valid[i + 1:]
    elif kind == "insert":
        i = draw(st.integers(0, len(valid)))
        frame = valid[:i] + draw(st.binary(min_size=1, max_size=8)) + valid[i:]
    elif kind == "bad_utf8":
        # a str header followed by bytes that are not UTF-8, in place of the tag's value
        bad = draw(st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        frame = b"\x81\xa4type" + bytes([0xA0 | len(bad)]) + bad
        if draw(st.booleans()):
            frame = b"\x82\xa4type\xa4ping" + bytes([0xA0 | len(bad)]) + bad + b"\x01"
    elif kind == "deep":
        depth = draw(st.sampled_from([10, 100, 900, 1000, 5000, 30000]))
        opener = draw(st.sampled_from([b"\x91", b"\x81\xa1k"]))
        inner = opener * depth + b"\xc0"
        frame = draw(st.sampled_from([inner, b"\x82\xa1x" + inner + b"\xa4type\xa4ping",
                                      b"\x82\xa4type\xa4ping\xa1x" + inner,
                                      b"\x82\xa4type\xa3foo\xa1x" + inner]))
    else:
        frame = valid + draw(st.binary(min_size=1, max_size=4))
    return Case("garbage", (frame,), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def multi_frame_cases(draw, now_ms: int) -> Case:
    """Two to four payload frames, each valid alone: error malformed, nothing journaled."""
    parts = draw(st.lists(st.one_of(valid_intent(now_ms).map(encode), st.just(encode({"type": "ping"})),
                                    st.just(b""), st.binary(max_size=20)), min_size=2, max_size=4))
    return Case("multi_frame", tuple(parts), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def huge_cases(draw, now_ms: int) -> Case:
    """Over 64 KiB: dropped with no reply. Exactly 64 KiB is still read (and refused)."""
    size = draw(st.sampled_from([model.MAX_FRAME_BYTES + 1, model.MAX_FRAME_BYTES + 100, 100_000, 300_000,
                                 model.MAX_FRAME_BYTES]))
    obj = draw(valid_intent(now_ms))
    obj["reason"] = ""
    frame = encode(obj)
    for _ in range(3):  # pad the reason until the frame is `size` bytes (its header grows)
        obj["reason"] = "r" * max(len(obj["reason"]) + size - len(frame), 0)
        frame = encode(obj)
    if draw(st.booleans()):
        frame = draw(st.binary(min_size=1, max_size=1)) * size
    return Case("huge", (frame,), draw(st.sampled_from(CLIENTS)))


@cached
@st.composite
def no_delimiter_cases(draw, now_ms: int) -> Case:
    obj = draw(st.one_of(valid_intent(now_ms), st.just({"type": "ping"})))
    return Case("no_delimiter", (encode(obj),), draw(st.sampled_from(CLIENTS)), delimiter=False)


BAD_CATEGORIES = {
    "nearly_valid": nearly_valid_cases,
    "amount": amount_cases,
    "unicode": unicode_cases,
    "wrong_tag": wrong_tag_cases,
    "structure": structure_cases,
    "garbage": garbage_cases,
    "multi_frame": multi_frame_cases,
}
# Cost a wait each (no reply is proven by waiting): drawn rarely.
DROPPED_CATEGORIES = {
    "huge": huge_cases,
    "no_delimiter": no_delimiter_cases,
}


@cached
@st.composite
def any_case(draw, now_ms: int, *, dropped_weight: int = 1) -> Case:
    """Every category, valid ones included; each dropped category `dropped_weight` times in
    about 60 draws (no reply is proven by waiting, so they are kept rare)."""
    weighted = ["valid"] * 8
    for name in BAD_CATEGORIES:
        weighted += [name] * 7
    for name in DROPPED_CATEGORIES:
        weighted += [name] * dropped_weight
    name = draw(st.sampled_from(weighted))
    if name == "valid":
        return draw(valid_cases(now_ms))
    return draw({**BAD_CATEGORIES, **DROPPED_CATEGORIES}[name](now_ms))


def fresh_ids(case: Case, serial: int) -> Case:
    """The case with its intent_id made unique by a serial number (shared `dup-N` ids kept).

    Hypothesis repeats values across examples on purpose, which turns most intents into
    conflicts; the valid-request test wants mostly new ones for the policy to judge."""
    obj = msgspec.msgpack.decode(case.frames[0])
    if obj.get("type") != "transfer_intent" or obj["intent_id"].startswith("dup-"):
        return case
    obj["intent_id"] = f"{obj['intent_id'][:27]}-{serial:x}"[-36:]
    return Case(case.category, (encode(obj),), case.client, case.delimiter)
