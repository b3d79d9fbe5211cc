"""Fuzzing the signal bot's webhook (signal_bot/webhook.py, signal_bot/signals.py) over real
HTTP: its WebhookServer on a loopback port, in-process, as its own unit tests run it, with
a recording port in place of the order queue (the order desk only ever sees what `submit`
was given).

Properties, against a model of the webhook written here from its documented contract:
- every request gets a JSON answer `{"error", "detail"}` with a 4XX status naming the
  problem (401 bad secret, 400 bad JSON, 413 too large, 422 bad field with the field named),
  or 202 for exactly the bodies the model calls valid - never a 5XX, never a dropped connection;
- `submit` (the way to an order) is called once for each 202 and never otherwise, with the
  model's signal;
- the server keeps serving: a valid signal right after each bad request is accepted.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
from decimal import Decimal
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signal_bot.signals import Signal
from signal_bot.webhook import MAX_BODY_BYTES, WebhookServer, signature_of
from tests.fuzz.frames import FULLWIDTH_DIGITS, INVISIBLES, ci_settings

SECRET = "test-secret-not-real-0001"

# The model: the signal grammar (signal_bot/signals.py's docstring and DESIGN section 5).
ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,36}")
SYMBOL_RE = re.compile(r"[A-Z0-9]{1,20}")
AMOUNT_RE = re.compile(r"[0-9]+(\.[0-9]{1,18})?")
WORDS = {"side": {"BUY", "SELL"}, "type": {"MARKET", "LIMIT"}, "time_in_force": {"GTC", "IOC", "FOK"}}
FIELDS = ("id", "symbol", "side", "type", "quantity", "quote_amount", "price", "time_in_force")


def _amount(value: Any) -> bool:
    return (isinstance(value, str) and len(value) <= 64 and AMOUNT_RE.fullmatch(value) is not None
            and Decimal(value) > 0)


def _word(name: str, value: Any) -> str | None:
    """The enum word as the signal holds it (ASCII case-insensitive), or None if refused."""
    if isinstance(value, str) and value.isascii() and value.upper() in WORDS[name]:
        return value.upper()
    return None


def model_signal(fields: dict[str, Any]) -> tuple[dict[str, Any] | None, set[str]]:
    """(the signal's fields, set()) when valid, else (None, the fields at fault; "" = the whole)."""
    wrong: set[str] = set(k for k in fields if k not in FIELDS)
    present = {k: v for k, v in fields.items() if k in FIELDS and v is not None}
    for name in ("id", "symbol", "side", "type"):
        if name not in fields:
            wrong.add(name)
    checks = {"id": lambda v: isinstance(v, str) and ID_RE.fullmatch(v) is not None,
              "symbol": lambda v: isinstance(v, str) and SYMBOL_RE.fullmatch(v) is not None,
              "side": lambda v: _word("side", v) is not None, "type": lambda v: _word("type", v) is not None,
              "time_in_force": lambda v: _word("time_in_force", v) is not None,
              "quantity": _amount, "quote_amount": _amount, "price": _amount}
    for name in FIELDS:
        if name in fields and fields[name] is None and name in ("id", "symbol", "side", "type"):
            wrong.add(name)
        elif name in present and not checks[name](present[name]):
            wrong.add(name)
    if wrong:
        return None, wrong
    kind = _word("type", present["type"])
    if ("quantity" in present) == ("quote_amount" in present):
        return None, {"quantity"}
    if kind == "LIMIT" and ("quote_amount" in present or "price" not in present):
        return None, {"quote_amount", "price"}
    if kind == "MARKET" and ("price" in present or "time_in_force" in present):
        return None, {"price", "time_in_force"}
    signal = {name: present.get(name) for name in FIELDS}
    for name in WORDS:
        if signal[name] is not None:
            signal[name] = _word(name, signal[name])
    return signal, set()


def model_answer(body: bytes, signature: str | None) -> tuple[int, str, dict[str, Any] | None, set[str]]:
    """(status, error code, signal if accepted, fields the 422 may name)."""
    if len(body) > MAX_BODY_BYTES:
        return 413, "too_large", None, set()
    if signature is not None and signature.strip().lower() != signature_of(SECRET, body):
        return 401, "unauthorized", None, set()
    if _is_text_command(body):
        return TEXT_COMMAND, "", None, set()
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=lambda name: _NotJson())
    except (UnicodeDecodeError, ValueError, RecursionError):
        return 400, "bad_json", None, set()
    if _has(value, _NotJson) or _has_out_of_range(value) or not isinstance(value, dict):
        return 400, "bad_json", None, set()
    passphrase = value.pop("passphrase", None)
    if signature is None and passphrase != SECRET:
        return 401, "unauthorized", None, set()
    signal, wrong = model_signal(value)
    if signal is None:
        return 422, "invalid_signal", None, wrong
    return 202, "", signal, set()


# Issue 15: a body whose first character is a letter is a one-line text command (`buy BTCUSDT
# quote=100`), unless it is one of JSON's bare words. Random text is never a whole command with
# the passphrase, so it is refused: 422 naming a field, or 401 if it parsed without one.
TEXT_COMMAND = -1
_JSON_WORDS = (b"null", b"true", b"false")
_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _is_text_command(body: bytes) -> bool:
    """UTF-8 text, an ASCII letter first (after ASCII whitespace), and not a bare JSON word."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False   # neither JSON nor text: bad_json
    text = body.strip()   # ASCII whitespace: space, \t, \n, \r, \v, \f
    return bool(text) and text[0] in _ASCII_LETTERS and text not in _JSON_WORDS


class _NotJson:
    """NaN / Infinity: Python's json reads them, JSON (and msgspec) does not."""


def _walk(value: Any) -> Iterator[Any]:
    """Every value inside a decoded JSON document, dict keys included (no recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _has_out_of_range(value: Any) -> bool:
    """Numbers JSON allows but no float holds (1e309), and strings with lone surrogates
    ("\\ud800"): Python's json reads them, msgspec refuses them."""
    for item in _walk(value):
        if isinstance(item, float) and item in (float("inf"), float("-inf")):
            return True
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 1.7976931348623157e308:
            return True
        if isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            return True
    return False


def _has(value: Any, kind: type) -> bool:
    return any(isinstance(item, kind) for item in _walk(value))


# --- the live webhook -------------------------------------------------------------------------

class Recorder:
    """The port the webhook hands signals to: records them, always has room."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def __call__(self, signal: Signal) -> bool:
        self.signals.append(signal)
        return True


class Hook:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.server = WebhookServer("127.0.0.1", 0, SECRET, self.recorder).start()
        self.conn: http.client.HTTPConnection | None = None
        self.statuses: dict[int, int] = {}
        self.serial = itertools.count()

    def post(self, body: bytes, headers: dict[str, str], path: str = "/signal",
             method: str = "POST") -> tuple[int, dict[str, Any]]:
        """One request on a keep-alive connection (reopened when the server closed it)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise AssertionError("the webhook dropped the connection without an answer")
                continue
            if response.getheader("Connection", "").lower() == "close" or response.will_close:
                self.conn.close()
                self.conn = None
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            assert response.getheader("Content-Type") == "application/json", response.getheaders()
            return response.status, json.loads(payload)
        raise AssertionError("unreachable")

    def check(self, body: bytes, signature: str | None) -> None:
        """Post one body; compare with the model; then a valid signal must still be accepted."""
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Signature"] = signature
        before = len(self.recorder.signals)
        status, answer = self.post(body, headers)
        want_status, want_error, want_signal, may_name = model_answer(body, signature)
        assert status < 500, (status, answer, body[:300])
        if want_status == TEXT_COMMAND:
            assert (status, answer["error"]) in ((422, "invalid_signal"), (401, "unauthorized")), (status, answer)
            assert len(self.recorder.signals) == before, "a refused text command reached the order queue"
            self.follow_up()
            return
        assert status == want_status, (status, answer, want_status, body[:300], signature)
        if status == 202:
            assert answer == {"accepted": True, "id": want_signal["id"]}
            assert len(self.recorder.signals) == before + 1
            got = self.recorder.signals[-1]
            assert {name: getattr(got, name) for name in FIELDS} == want_signal
        else:
            assert len(self.recorder.signals) == before, "a refused body reached the order queue"
            assert answer["error"] == want_error and isinstance(answer["detail"], str) and answer["detail"]
            if status == 422:
                assert answer["field"] in may_name or (answer["field"] is None and "" in may_name), \
                    (answer, may_name, body[:300])
            self.follow_up()

    def follow_up(self) -> None:
        signal_id = f"after-{next(self.serial)}"
        body = json.dumps({"id": signal_id, "symbol": "BTCUSDT", "side": "buy", "type": "market",
                           "quantity": "0.01", "passphrase": SECRET}).encode()
        status, answer = self.post(body, {"Content-Type": "application/json"})
        assert (status, answer) == (202, {"accepted": True, "id": signal_id})

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.stop()


@pytest.fixture(scope="module")
def hook() -> Iterator[Hook]:
    running = Hook()
    yield running
    running.close()


# --- strategies ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=15)


def tricks(text: str):
    return st.one_of(
        st.just(text.translate(FULLWIDTH_DIGITS)),
        st.builds(lambda i, c: text[:i] + c + text[i:], st.integers(0, len(text)), st.sampled_from(INVISIBLES)),
        st.just(text.lower()), st.just(text + "\n"), st.just(" " + text),
        st.just(text.replace("S", "\u0405").replace("B", "\u0392")),       # Cyrillic/Greek look-alikes
        st.just(text.replace("s", "\u017f").replace("i", "\u0131")),       # upper() to ASCII
    )


amounts = st.one_of(
    st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("1000000"), places=8,
                allow_nan=False, allow_infinity=False).map(lambda d: format(d, "f")),
    st.sampled_from(["0.01", "1", "100", "0", "-1", "1e3", "NaN", "Infinity", "1.0000000000000000001",
                     "9" * 65, " 1", "1_0", "\uff11", "0x10", ""]),
    st.floats(), st.integers(-10, 10**30), st.none(), st.lists(st.just("1"), max_size=2),
)


@st.composite
def signal_fields(draw) -> dict[str, Any]:
    """A signal, valid or close to it, with a few fields changed in all the usual ways."""
    kind = draw(st.sampled_from(["MARKET", "LIMIT", "market", "Limit"]))
    fields: dict[str, Any] = {
        "id": draw(st.one_of(st.from_regex(r"[a-zA-Z0-9_-]{1,36}", fullmatch=True), st.uuids().map(str))),
        "symbol": draw(st.sampled_from(["BTCUSDT", "ETHUSDT", "BNBUSDT", "DOGEUSDT"])),
        "side": draw(st.sampled_from(["BUY", "SELL", "buy", "sell", "Buy"])),
        "type": kind,
    }
    if kind.upper() == "LIMIT":
        fields["quantity"] = draw(amounts)
        fields["price"] = draw(amounts)
        if draw(st.booleans()):
            fields["time_in_force"] = draw(st.sampled_from(["GTC", "ioc", "FOK", "DAY", ""]))
    elif draw(st.booleans()):
        fields["quantity"] = draw(amounts)
    else:
        fields["quote_amount"] = draw(amounts)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from([*FIELDS, "passphrase", "leverage", "Side", "id "]))
        action = draw(st.sampled_from(["trick", "value", "delete"]))
        if action == "delete":
            fields.pop(name, None)
        elif action == "trick" and isinstance(fields.get(name), str):
            fields[name] = draw(tricks(fields[name]))
        else:
            fields[name] = draw(st.one_of(json_values, amounts))
    return fields


@st.composite
def webhook_requests(draw) -> tuple[bytes, str | None]:
    """(body, X-Signature or None): signals with every kind of authentication, random JSON, bytes."""
    shape = draw(st.sampled_from(["signal"] * 4 + ["json", "bytes", "deep", "not_utf8"]))
    if shape == "signal":
        fields = draw(signal_fields())
        auth = draw(st.sampled_from(["passphrase"] * 3 + ["signature"] * 2 + ["bad_passphrase", "none",
                                                                               "bad_signature", "both"]))
        if auth in ("passphrase", "both"):
            fields["passphrase"] = SECRET
        elif auth == "bad_passphrase":
            fields["passphrase"] = draw(st.one_of(st.sampled_from([SECRET + " ", SECRET.upper(), SECRET[:-1], ""]),
                                                  json_values))
        body = json.dumps(fields, ensure_ascii=draw(st.booleans())).encode()
    elif shape == "json":
        auth = draw(st.sampled_from(["none", "signature", "passphrase"]))
        value = draw(json_values)
        if auth == "passphrase" and isinstance(value, dict):
            value["passphrase"] = SECRET
        body = json.dumps(value).encode()
    elif shape == "bytes":
        auth = draw(st.sampled_from(["none", "signature"]))
        body = draw(st.binary(max_size=200))
    elif shape == "deep":
        auth = draw(st.sampled_from(["none", "signature"]))
        depth = draw(st.sampled_from([10, 100, 5000, 30000]))  # far from the recursion limit
        body = draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]))
    else:
        auth = draw(st.sampled_from(["none", "signature"]))
        body = b'{"id": "' + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80abc"])) + b'"}'
    if auth in ("signature", "both"):
        signature = signature_of(SECRET, body)
        signature = draw(st.sampled_from([signature, signature.upper(), f" {signature} "]))
    elif auth == "bad_signature":
        signature = draw(st.one_of(st.sampled_from(["", "00" * 32, signature_of("other-secret-not-real", body)]),
                                   st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF),
                                           max_size=70)))
    else:
        signature = None
    return body, signature


@ci_settings(max_examples=400)
@given(request=webhook_requests())
def test_every_body_gets_the_models_answer_and_only_valid_ones_reach_the_queue(hook, request):
    """Signals (valid or mutated) under every kind of authentication, random JSON, random bytes,
    deep nesting, bytes that are not UTF-8: the model's 2XX/4XX and never a 5XX."""
    body, signature = request
    hook.check(body, signature)


@ci_settings(max_examples=30)
@given(size=st.sampled_from([MAX_BODY_BYTES + 1, MAX_BODY_BYTES + 1000, 10 * MAX_BODY_BYTES]))
def test_bodies_over_64_kib_are_413_before_reading_and_nothing_is_queued(hook, size):
    """Content-Length over the limit: 413 at once (the body is never waited for)."""
    before = len(hook.recorder.signals)
    conn = http.client.HTTPConnection("127.0.0.1", hook.server.port, timeout=10)
    conn.putrequest("POST", "/signal")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 413 and answer["error"] == "too_large" and answer["detail"]
    assert len(hook.recorder.signals) == before
    hook.follow_up()


def test_a_body_of_exactly_64_kib_is_read_and_judged(hook):
    """The limit is inclusive: a 65,536-byte valid signal (padded with spaces) is accepted."""
    body = json.dumps({"id": "exact-64k", "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                       "quote_amount": "10", "passphrase": SECRET}).encode()
    body += b" " * (MAX_BODY_BYTES - len(body))
    hook.check(body, None)


@pytest.mark.parametrize("method, path, headers, status", [
    ("POST", "/signal", {"Transfer-Encoding": "chunked"}, 411),
    ("POST", "/other", {}, 404), ("GET", "/signal", {}, 405), ("PUT", "/signal", {}, 405),
    ("POST", "/signal", {"Content-Length": "-1"}, 400), ("POST", "/signal", {"Content-Length": "ten"}, 400),
    ("DELETE", "/", {}, 404),
])
def test_wrong_method_path_or_length_is_a_json_4xx(hook, method, path, headers, status):
    """Only POST /signal with a Content-Length is judged; the rest is a named JSON 4XX."""
    before = len(hook.recorder.signals)
    conn = http.client.HTTPConnection("127.0.0.1", hook.server.port, timeout=10)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    if headers.get("Transfer-Encoding") == "chunked":
        conn.send(b"5\r\nhello\r\n0\r\n\r\n")
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == status and answer["error"] and answer["detail"]
    assert len(hook.recorder.signals) == before
    hook.follow_up()


def test_the_webhook_never_answered_5xx(hook):
    """Across the whole module: no 5XX status was ever sent."""
    assert hook.statuses and all(status < 500 for status in hook.statuses), hook.statuses
    print(f"\nwebhook statuses: {dict(sorted(hook.statuses.items()))}, queued {len(hook.recorder.signals)}")
