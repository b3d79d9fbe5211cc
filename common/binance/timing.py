"""The offset between our clock and the exchange's: pure arithmetic, no I/O.

A SIGNED request's `timestamp` is local clock + the offset last measured with
`/api/v3/time`; Binance refuses it (-1021) outside `recvWindow` of its own clock.
"""

from __future__ import annotations

MAX_RECV_WINDOW_MS = 60_000


def offset_from_round_trip(sent_at_ms: int, server_ms: int, received_at_ms: int) -> int:
    """Server time minus local time. The server read its clock somewhere during the round
    trip; the midpoint is the best estimate, off by at most half the round trip."""
    return server_ms - (sent_at_ms + received_at_ms) // 2


def signed_timestamp(local_now_ms: int, offset_ms: int) -> int:
    """The `timestamp` to sign: our clock moved onto the exchange's by the measured offset."""
    return local_now_ms + offset_ms
