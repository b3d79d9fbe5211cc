"""treasury_bot/bootstrap.py: building the treasury's objects from settings touches nothing.

Settings point at an exchange, endpoints and an SMTP server nobody listens on, and at a
ledger, a policy and a clients folder that do not exist; every socket, file and request
is refused while building (tests/support/no_io.py). The I/O is in the start steps
treasury_bot/app.py runs: sync_clock, measure, Authenticator.start, IntentServer.open,
the threads' run.
"""

from __future__ import annotations


import pytest
import zmq

from common.clock import FakeClock
from common.curve import KeyPair
from treasury_bot import bootstrap
from treasury_bot.loosening import Resolution
from treasury_bot.policy_file import LoadedPolicy
from tests.support.no_io import forbid_io
from tests.support.treasury_core import T0
from tests.support.bootstrap_cases import NOWHERE, POLICY, settings, NotALedger


@pytest.fixture
def context():
    made = zmq.Context()
    yield made
    made.destroy(linger=0)


def test_the_authenticator_and_the_server_bind_nothing_until_started(monkeypatch, context):
    """No ZAP socket, no ROUTER/PUB bound, the ledger not read: all of that is start/open."""
    host = FakeClock(T0)
    clock = bootstrap.trusted_clock(settings(), host)
    cache = bootstrap.coin_rules(settings(), clock)
    loaded = LoadedPolicy(POLICY, "0" * 64, NOWHERE / "policy.toml")
    resolution = Resolution(POLICY, {}, POLICY, ())
    touched = forbid_io(monkeypatch)
    auth = bootstrap.authenticator(settings(), context)
    decisions = bootstrap.decisions(loaded, resolution, cache, clock)
    server = bootstrap.intent_server(settings(), context, KeyPair(b"p" * 40, b"s" * 40), {}, NotALedger(),
                                     decisions, clock)
    assert touched == [] and auth is not None
    assert server.batches == 0 and not hasattr(server, "router")
    with pytest.raises(AssertionError):     # the guard bites: binding is the open step
        server.open()
    assert touched == ["zmq.Context.socket"]
