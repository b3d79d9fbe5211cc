"""What tests/unit/treasury_bot/test_bootstrap.py and
tests/integration/treasury_bot/test_bootstrap.py share: NOWHERE, POLICY, settings, NotALedger."""

from __future__ import annotations

from pathlib import Path

from common.config import ApiCredentials, SmtpSettings, TreasurySettings
from tests.support.treasury_core import make_policy

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
