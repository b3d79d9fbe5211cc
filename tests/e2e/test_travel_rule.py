"""The Travel Rule end to end (issue 12 item 5): a sandbox playing an account under Japan's
local entity; a real treasury that reads questionnaire-requirements at start, withdraws
through the local-entity apply with each destination's questionnaire exactly once, polls
the local-entity history to the end, fails a withdrawal whose check fails, and refuses to
start when a destination has no questionnaire."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from tests.support.procs import script
from tests.support.sandbox import DEMO_TRX_ADDRESS, DEMO_TRX_HOT_ADDRESS, sandbox_process
from tests.support.treasury_proc import E2E_DESTINATIONS, TreasuryProcess, e2e_policy
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

JAPAN_SELF = {"isAddressOwner": 1, "sendTo": 2, "country": "jp", "city": "tokyo", "isAttested": True}


def policy(questionnaire=JAPAN_SELF, skip: str | None = None) -> str:
    destinations = tuple(d if d.label == skip else dataclasses.replace(d, questionnaire=questionnaire)
                         for d in E2E_DESTINATIONS)
    return e2e_policy(destinations=destinations)


def japan_sandbox(tmp_path, **over):
    return sandbox_process(tmp_path, complete_after_seconds=0.3, travel_rule_country="JP", **over)



def test_a_travel_rule_account_withdraws_through_the_local_entity_once_with_the_questionnaire(tmp_path):
    """Start reads JP; the intent goes out once through the local-entity apply, carrying its
    destination's questionnaire; the local history's completed row completes it; check names
    the route."""
    with japan_sandbox(tmp_path) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy()).start()
        try:
            treasury.withdraw_once("tr-e2e-1", "30")
            check = treasury.check()
        finally:
            treasury.terminate()
        assert sandbox.apply_calls() == {"tr-e2e-1": 1}
        history = sandbox.admin("GET", "/sandbox/withdrawals")["withdrawals"]
        [record] = history
        assert record["withdrawOrderId"] == "tr-e2e-1" and record["address"] == DEMO_TRX_ADDRESS
        rows = treasury.query("SELECT withdrawal_id FROM withdrawals")
        assert rows == [("1",)]          # the travel-rule record id is the withdrawal's id here
        lines = [" ".join(x.split()) for x in check.stdout.splitlines()]
        [route] = [x for x in lines if x.startswith(("OK travel rule", "FAIL travel rule"))]
        assert route.startswith("OK travel rule account under the JP local entity"), check.stdout
        assert "travel_rule" in treasury.log() and "localentity" in treasury.log()


def test_a_failed_travel_rule_check_rejects_the_intent_and_the_money_comes_back(tmp_path):
    """travelRuleStatus 2 on the local history: the intent ends rejected (CRITICAL mail), applied once, balance restored."""
    with japan_sandbox(tmp_path, travel_rule_failing_addresses=[DEMO_TRX_ADDRESS]) as sandbox:
        before = sandbox.balances()["USDT"]["free"]
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy()).start()
        try:
            treasury.withdraw_once("tr-e2e-2", "30", final="rejected")
        finally:
            treasury.terminate()
        assert sandbox.apply_calls() == {"tr-e2e-2": 1}
        wait_until(lambda: sandbox.balances()["USDT"]["free"] == before, timeout=10, what="the refund")


def test_a_destination_without_a_questionnaire_stops_the_start_naming_it(tmp_path):
    """On a JP account, hot-wallet has none: exit 2 (a policy error), its label named, no apply."""
    with japan_sandbox(tmp_path) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy(skip="hot-wallet"))
        started = subprocess.run([script("treasury-bot"), "run", "--env-file", str(treasury.env_path)],
                                 capture_output=True, text=True, timeout=60, cwd=treasury.dir)
        assert started.returncode == 2, started.stdout + started.stderr
        text = started.stdout + started.stderr
        assert "hot-wallet" in text and "questionnaire is missing" in text and "JP local entity" in text
        assert sandbox.apply_calls() == {}


def test_a_plain_account_ignores_questionnaires_and_uses_the_capital_apply(tmp_path):
    """NIL: questionnaires in the policy change nothing; the capital apply is used, once."""
    with sandbox_process(tmp_path, complete_after_seconds=0.3) as sandbox:
        treasury = TreasuryProcess(tmp_path, sandbox, policy_text=policy()).start()
        try:
            treasury.withdraw_once("tr-e2e-4", "30")
        finally:
            treasury.terminate()
        assert sandbox.apply_calls() == {"tr-e2e-4": 1}
        assert json.dumps(sandbox.withdrawals()).count(DEMO_TRX_HOT_ADDRESS) == 0
