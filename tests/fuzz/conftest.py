"""Fixtures for the fuzz suite: a live in-process treasury on real CURVE sockets and a
real ledger file, on a fake clock, with the fuzz policy, shared by a module's tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from common.clock import FakeClock
from tests.fuzz import wire_model as model
from tests.fuzz.frames import CLIENTS
from tests.fuzz.harness import Judge, LedgerCounter, WireLink
from tests.support.treasury import COLD_ADDRESS, HOT_ADDRESS, InProcessServer, make_curve, policy




@dataclass
class LiveTreasury:
    server: InProcessServer
    judge: Judge
    clock: FakeClock


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveTreasury]:
    tmp = tmp_path_factory.mktemp("fuzz-wire")
    curve = make_curve(tmp)
    clock = FakeClock(model.FUZZ_NOW_MS)
    server = InProcessServer(tmp, curve, policy(model.fuzz_policy_toml(COLD_ADDRESS, HOT_ADDRESS)),
                             clock=clock).start()
    link = WireLink(server.intent_endpoint, {name: curve.keys(name) for name in CLIENTS}, curve.server_public)
    ledger = LedgerCounter(server.ledger_path)
    judge = Judge(link, ledger, clock.now_ms, exact=True)
    try:
        yield LiveTreasury(server, judge, clock)
    finally:
        link.close()
        ledger.close()
        server.close()
