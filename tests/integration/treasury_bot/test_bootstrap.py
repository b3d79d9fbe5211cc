"""treasury_bot/bootstrap.py: building the treasury's objects from settings touches nothing.

Settings point at an exchange, endpoints and an SMTP server nobody listens on, and at a
ledger, a policy and a clients folder that do not exist; every socket, file and request
is refused while building (tests/support/no_io.py). The I/O is in the start steps
treasury_bot/app.py runs: sync_clock, measure, Authenticator.start, IntentServer.open,
the threads' run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

from common.clock import FakeClock
from common.config import ApiCredentials, SmtpSettings, TreasurySettings
from common.curve import KeyPair
from treasury_bot import bootstrap
from treasury_bot.loosening import Resolution
from treasury_bot.policy_file import LoadedPolicy
from tests.support.no_io import forbid_io
from tests.support.treasury_core import T0, make_policy

NOWHERE = Path("/nonexistent-treasury-dir")
POLICY = make_policy()


def settings(*, sandbox_poll_seconds: float | None = None) -> TreasurySettings:
    return TreasurySettings(
        env_path=None, base_url="http://127.0.0.1:9",
        credentials=ApiCredentials("treasury-key-not-real-00000000000", "treasury-secret-not-real-000"),
        policy_file=NOWHERE / "policy.toml", ledger_path=NOWHERE / "ledger.sqlite",
        intent_endpoint="tcp://127.0.0.1:9", event_endpoint="tcp://127.0.0.1:9",
        curve_secret_file=NOWHERE / "treasury.key_secret", authorized_clients_dir=NOWHERE / "clients",
        smtp=SmtpSettings(host="127.0.0.1", port=9, security="none", username=None, password=None,
                          sender="t@example.invalid", recipients=("o@example.invalid",)),
        log_level=None, log_format=None, sandbox_poll_seconds=sandbox_poll_seconds)


class NotALedger:
    """Stands in for a ledger connection: any use while building fails the test."""

    path = NOWHERE / "ledger.sqlite"

    def __getattr__(self, name: str):
        raise AssertionError(f"the ledger was used while building ({name})")


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
