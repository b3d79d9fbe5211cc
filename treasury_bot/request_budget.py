"""Per-client request budget (pure; docs/design.md section 9, issue 10 defect 6).

Each client may send `max_requests_per_minute` transfer intents in any sliding 60 s
(`[limits.clients.NAME]`, default 600). Over it, an intent is refused `rejected` /
`client_rate_limited` without a journal row: the refusals are only counted, and the count
leaves as one digest alert per client at most once a minute. Time is the monotonic clock,
passed in, so that a wall-clock step neither frees nor blocks anybody.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Mapping

WINDOW_S = 60.0
DIGEST_EVERY_S = 60.0
DEFAULT_MAX_REQUESTS_PER_MINUTE = 600


@dataclass
class _Client:
    sent: deque[float] = field(default_factory=deque)   # monotonic times admitted, oldest first
    refused: int = 0                                     # refusals not yet in a digest
    refused_total: int = 0
    last_digest: float | None = None


@dataclass(frozen=True)
class Digest:
    client: str
    refused: int
    max_requests_per_minute: int


class RequestBudget:
    """Sliding-window admission per client, and the digests of what it refused."""

    def __init__(self, limits: Mapping[str, int], default: int = DEFAULT_MAX_REQUESTS_PER_MINUTE) -> None:
        self.limits = dict(limits)
        self.default = default
        self._clients: dict[str, _Client] = {}

    def limit_for(self, client: str) -> int:
        return self.limits.get(client, self.default)

    def _expire(self, state: _Client, now: float) -> None:
        while state.sent and now - state.sent[0] >= WINDOW_S:
            state.sent.popleft()

    def admit(self, client: str, now: float) -> bool:
        """May `client` send one more intent at `now`? A request exactly WINDOW_S old no longer counts."""
        state = self._clients.setdefault(client, _Client())
        self._expire(state, now)
        if len(state.sent) >= self.limit_for(client):
            state.refused += 1
            state.refused_total += 1
            return False
        state.sent.append(now)
        return True

    def refused_total(self, client: str) -> int:
        state = self._clients.get(client)
        return state.refused_total if state else 0

    def due_digests(self, now: float) -> list[Digest]:
        """The digests to raise now: a client with uncounted refusals whose last digest is
        at least DIGEST_EVERY_S old (the first one goes at once). Taking them resets the counts."""
        out = []
        for client, state in self._clients.items():
            if state.refused and (state.last_digest is None or now - state.last_digest >= DIGEST_EVERY_S):
                out.append(Digest(client, state.refused, self.limit_for(client)))
                state.refused = 0
                state.last_digest = now
        return out
