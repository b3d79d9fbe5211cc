"""Approving in tests the way a running treasury would meet it: with fresh exchange rules.

A running treasury re-reads and saves the exchange's coin rules every few minutes, and
`approve` refuses rules older than `max_exchange_rules_age_minutes` (issue 10 defect 8). A
test that approves hours of fake time later saves the rules at the moment `approve` will
judge them (operator.ledger_now), as the refresher would have.
"""

from __future__ import annotations

from common.clock import Clock
from tests.support.treasury import COIN_RULES
from treasury_bot import operator
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.ledger import Ledger
from treasury_bot.policy_model import Policy


def approve_with_fresh_rules(ledger: Ledger, policy: Policy, intent_id: str, clock: Clock,
                             note: str = "") -> operator.ActionResult:
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(COIN_RULES), operator.ledger_now(ledger, clock))
    return operator.approve(ledger, policy, intent_id, clock, note)
