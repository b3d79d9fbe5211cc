"""Injected faults: the next `count` requests to a path misbehave in a chosen way.

Kinds (aliases from the plan in brackets):
- `latency`: sleep `seconds` before handling; stacks with one other fault.
- `5xx_before`: answer `status` (default 503) with an HTML page; the request is not applied.
- `5xx_after`: apply the request, then answer `status` (default 500) with an HTML page.
- `drop_before`: close the connection without an answer; not applied.
- `drop_after`: apply the request, then close the connection without an answer.
- `latency_after`: apply the request, then sleep `seconds` before answering (a client
  that times out, or dies, in that gap has sent a request that took effect).
- `429`, `418`: Binance's -1003 body with `Retry-After: retry_after` (default 60); not applied.
- `-1021` [`clock_skew`]: answer the timestamp error; not applied.
- `auth` [`auth_-2015`]: answer -2015; not applied.
- `busy_after`: apply the request, then answer 400 with Binance's -1008 ("server
  overloaded") body: Binance does not say such a request was not executed (issue 10).
A fault matches on the exact path and, if given, the method. `count` -1 lasts until
the faults are cleared. Faults live in memory only.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

Kind = Literal["latency", "latency_after", "5xx_before", "5xx_after", "drop_before", "drop_after",
               "429", "418", "-1021", "auth", "busy_after"]
ALIASES = {"clock_skew": "-1021", "auth_-2015": "auth"}
AFTER_KINDS = frozenset({"5xx_after", "drop_after", "latency_after", "busy_after"})


class FaultSpec(Struct, frozen=True, forbid_unknown_fields=True):
    path: Annotated[str, Meta(pattern=r"^/")]
    kind: Kind
    count: Annotated[int, Meta(ge=-1)] = 1
    method: Literal["GET", "POST", "PUT", "DELETE"] | None = None
    seconds: Annotated[float, Meta(ge=0, le=600)] = 0.0
    retry_after: Annotated[int, Meta(ge=0)] = 60
    status: Annotated[int, Meta(ge=500, le=599)] | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.path == path and (self.method is None or self.method == method)

    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        return 503 if self.kind == "5xx_before" else 500


class FaultsRequest(Struct, frozen=True, forbid_unknown_fields=True):
    faults: list[FaultSpec]


def parse_faults(body: bytes) -> list[FaultSpec]:
    """Decode `{"faults": [...]}`; accepts the plan's alias names for kinds."""
    raw = msgspec.json.decode(body) if body else None
    if isinstance(raw, dict) and isinstance(raw.get("faults"), list):
        for item in raw["faults"]:
            if isinstance(item, dict) and item.get("kind") in ALIASES:
                item["kind"] = ALIASES[item["kind"]]
    return msgspec.convert(raw, FaultsRequest).faults


@dataclass(frozen=True)
class Taken:
    latency_seconds: float
    fault: FaultSpec | None   # at most one non-latency fault per request


@dataclass
class _Active:
    spec: FaultSpec
    remaining: int   # -1: until cleared


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[_Active] = []

    def add(self, specs: list[FaultSpec]) -> None:
        with self._lock:
            self._active.extend(_Active(spec, spec.count) for spec in specs if spec.count != 0)

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(msgspec.structs.asdict(a.spec), remaining=a.remaining) for a in self._active]

    def take(self, method: str, path: str) -> Taken:
        """Consume the faults that apply to this request."""
        latency = 0.0
        chosen: FaultSpec | None = None
        with self._lock:
            for active in self._active:
                if not active.spec.matches(method, path):
                    continue
                if active.spec.kind == "latency":
                    latency += active.spec.seconds
                elif chosen is None:
                    chosen = active.spec
                else:
                    continue
                if active.remaining > 0:
                    active.remaining -= 1
            self._active = [a for a in self._active if a.remaining != 0]
        return Taken(latency, chosen)
