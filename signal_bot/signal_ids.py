"""Signal ids people can write, and the exchange's `newClientOrderId` derived from them (pure).

A signal id is any printable text of 1 to 64 characters, so TradingView's
`{{ticker}}-{{timenow}}` ("BTCUSDT-2019-08-27T09:56:00Z") is an id. Binance admits a
`newClientOrderId` matching `^[\\.A-Z\\:/a-z0-9_-]{1,36}$`
(https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints,
"New order (TRADE)"), so the order's id is derived from the signal id, deterministically,
by `client_order_id` (docs/design.md section 5, "Signal ids"):

- an id of the old pattern `[A-Za-z0-9_-]{1,36}` is its own client order id (every id
  already in a state file, and every resend of one, keeps its order);
- an id that is already a derived one (`h.` + 34 of [a-z2-7]) is itself (idempotent:
  the journal's key rebuilt into a signal maps to the same order);
- any other id becomes `h.` + the first 34 characters of the lower-case, unpadded
  base32 of SHA-256(UTF-8 of the id): 170 bits, and the `.` keeps it apart from the
  old pattern, so no old id and no derived id can meet.

The journal is keyed by the client order id, so a resend of the same alert is the same
row and the same order. A signal without an id gets `b-` + 32 base32 characters of
SHA-256 of its window number and its canonical fields (`body_id`): a repeat of the same
body within the dedupe window is a duplicate (the intake also looks at the previous
window's id, so a repeat across a window's edge is caught too).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Mapping

ID_MAX_CHARS = 64
_OLD_ID = re.compile(r"[A-Za-z0-9_-]{1,36}\Z")
_DERIVED = re.compile(r"h\.[a-z2-7]{34}\Z")
# https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints (newClientOrderId)
BINANCE_CLIENT_ID = re.compile(r"[\.A-Z\:/a-z0-9_-]{1,36}\Z")
AUTO_PREFIX = "b-"


def id_problem(text: str) -> str | None:
    """Why `text` is not a signal id, or None."""
    if not 1 <= len(text) <= ID_MAX_CHARS:
        return f"an id is 1 to {ID_MAX_CHARS} characters"
    if not text.isprintable():
        return "an id is printable text (no control characters, tabs or newlines)"
    return None


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def client_order_id(signal_id: str) -> str:
    """The exchange's newClientOrderId (and the journal's key) for one signal id."""
    if _OLD_ID.match(signal_id) or _DERIVED.match(signal_id):
        return signal_id
    return "h." + _b32(hashlib.sha256(signal_id.encode("utf-8")).digest())[:34]


def canonical_fields(fields: Mapping[str, Any]) -> bytes:
    """One spelling of a signal's fields (sorted keys, no spaces): what `body_id` hashes."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def window_of(now_ms: int, window_seconds: int) -> int:
    return now_ms // (window_seconds * 1000)


def body_id(fields: Mapping[str, Any], window: int) -> str:
    """The id of a signal sent without one: its fields' hash within dedupe window number `window`."""
    digest = hashlib.sha256(b"%d|" % window + canonical_fields(fields)).digest()
    return AUTO_PREFIX + _b32(digest)[:32]
