"""Which wallet pays (issue 12 item 1), end to end: a real treasury whose destination says
`wallet = "funding"` withdraws from the sandbox's Funding wallet on an account whose
selected deposit wallet is spot, and the reverse; `treasuryctl check` shows each wallet's
balance. The sandbox decides which wallet paid from walletType as Binance documents."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tests.support.sandbox import Sandbox, sandbox_process
from tests.support.treasury_proc import E2E_DESTINATIONS, TreasuryProcess, e2e_policy

pytestmark = pytest.mark.e2e


def policy_with_cold_wallet(wallet: str) -> str:
    destinations = tuple(dataclasses.replace(d, wallet=wallet) if d.label == "cold-wallet" else d
                         for d in E2E_DESTINATIONS)
    return e2e_policy(destinations=destinations)


def free(sandbox: Sandbox, wallet: str) -> Decimal:
    shown = sandbox.admin("GET", "/sandbox/balances")
    return Decimal(shown["funding" if wallet == "funding" else "balances"]["USDT"]["free"])


@pytest.mark.parametrize("destination_wallet, account_default", [("funding", "spot"), ("spot", "funding")])
def test_the_destinations_wallet_pays_whatever_the_accounts_selected_wallet(
        tmp_path, destination_wallet, account_default):
    """The policy's wallet is sent as walletType: that wallet's USDT goes down by the amount,
    the other wallet's does not move, whatever the account's own default is."""
    with sandbox_process(tmp_path, complete_after_seconds=0.3, default_withdraw_wallet=account_default) as sandbox:
        other = "spot" if destination_wallet == "funding" else "funding"
        paying_before, other_before = free(sandbox, destination_wallet), free(sandbox, other)
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy_with_cold_wallet(destination_wallet)).start()
        try:
            treasury.withdraw_once("wal-1", "40")
            check = treasury.check()
        finally:
            treasury.terminate()
        assert free(sandbox, destination_wallet) == paying_before - 40
        assert free(sandbox, other) == other_before
        [record] = sandbox.withdrawals()
        assert record["walletType"] == (1 if destination_wallet == "funding" else 0)
        lines = [" ".join(x.split()) for x in check.stdout.splitlines()]
        assert any(x.startswith(f"OK wallet {destination_wallet} USDT free") and "cold-wallet" in x
                   for x in lines), check.stdout


def test_a_funding_destination_with_an_empty_funding_wallet_is_refused_by_the_exchange_not_paid_from_spot(tmp_path):
    """Funding holds 0 USDT, spot plenty: the apply is refused -4026 (the intent ends
    refused), spot is untouched, and check says the funding wallet is empty."""
    with sandbox_process(tmp_path, complete_after_seconds=0.3) as sandbox:
        sandbox.admin("POST", "/sandbox/balances", {"asset": "USDT", "free": "0", "wallet": "funding"})
        spot_before = free(sandbox, "spot")
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy_with_cold_wallet("funding")).start()
        try:
            check = treasury.check()
            treasury.withdraw_once("wal-2", "40", final="failed")
        finally:
            treasury.terminate()
        assert free(sandbox, "spot") == spot_before and sandbox.withdrawals() == []
        assert "empty: withdrawals from it are refused (-4026)" in check.stdout, check.stdout
