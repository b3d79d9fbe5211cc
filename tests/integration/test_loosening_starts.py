"""Tighten at once, loosen later across real starts (DESIGN section 9; issue 10 defect 5):
a real ledger file, the treasury's own start journal (app.journal_start), its decider and
the operator's approve, with the policy file edited between two "starts"."""

from __future__ import annotations

import re
import os
from pathlib import Path

import pytest

from common.clock import FakeClock
from common.config import TreasurySettings, load_treasury_settings
from common.curve import generate
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury import COIN_RULES, HOT_ADDRESS
from tests.support.treasury_core import T0, incoming, open_ledger, policy_text
from treasury_bot.app import journal_start
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.decider import DecisionContext, decide_batch
from treasury_bot.ledger import Ledger
from tests.support.approvals import approve_with_fresh_rules as approve
from treasury_bot.operator import OperatorError
from treasury_bot.policy_file import LoadedPolicy, load_policy_for
from treasury_bot.policy_in_force import LivePolicy, resolve_from_ledger

HOUR = 3_600_000
SANDBOX_URL = "http://127.0.0.1:9"   # loopback: quarantine_hours = 0 is allowed


class Site:
    """A treasury's files, started (journal_start) at chosen times with chosen policies."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        generate(folder / "keys", "treasury")
        (folder / "clients").mkdir()
        env = folder / "treasury.env"
        env.write_text(f"BINANCE_BASE_URL={SANDBOX_URL}\nTREASURY_API_KEY=k{'0' * 63}\n"
                       f"TREASURY_API_SECRET=s{'0' * 63}\nTREASURY_POLICY_FILE=treasury.toml\n"
                       "TREASURY_LEDGER_PATH=ledger.sqlite\nTREASURY_CURVE_SECRET_FILE=keys/treasury.key_secret\n"
                       "TREASURY_AUTHORIZED_CLIENTS_DIR=clients\n")
        os.chmod(env, 0o600)
        self.settings: TreasurySettings = load_treasury_settings(env)
        self.ledger: Ledger = open_ledger(folder / "ledger.sqlite")
        with self.ledger.transaction():
            self.ledger.save_coin_rules(to_snapshot(COIN_RULES), T0)

    def start(self, at: int, **policy: object) -> tuple[LoadedPolicy, LivePolicy]:
        """Write the policy file and start: what app.run does before it serves."""
        (self.folder / "treasury.toml").write_text(policy_text(**policy))  # type: ignore[arg-type]
        loaded = load_policy_for(self.settings.policy_file, self.settings.base_url)
        resolution = journal_start(self.ledger, loaded, at, self.settings, [])
        return loaded, LivePolicy(loaded.policy, resolution)

    def decide(self, live: LivePolicy, at: int, intent_id: str, amount: str = "100", **over):
        current = live.at(at)
        ctx = DecisionContext(current.effective, COIN_RULES, current.usable_from, at)
        [reply] = decide_batch(self.ledger, [incoming(intent_id, amount, created_at=at, **over)], ctx).replies
        return reply

    def summaries(self) -> list[dict]:
        return outbox_facts(self.ledger, "kind = 'start_summary'")


@pytest.fixture
def site(tmp_path):
    made = Site(tmp_path)
    yield made
    made.ledger.close()


BEFORE = dict(quarantine_hours="24", window_cap="5000", max_per_transfer="1000", cold_max=None,
              approval_above="800")


def proven(site: Site, base: int = T0) -> int:
    """A first start, then a second one a day later: every destination is in force."""
    site.start(base, **BEFORE)
    site.start(base + 25 * HOUR, **BEFORE)
    return base + 26 * HOUR


def test_a_re_pointed_destination_with_quarantine_zero_receives_nothing_after_the_restart(site):
    """The review's reproduction: the file re-points cold-wallet and sets quarantine_hours = 0
    (sandbox URL, so the file loads); after the restart the next intent is refused as
    quarantined for the in-force 24 h, and a restart later still does not shorten it."""
    now = proven(site)
    assert site.decide(site.start(now, **BEFORE)[1], now, "before").outcome == "accepted"
    edited = {**BEFORE, "quarantine_hours": "0", "cold_address": HOT_ADDRESS}
    _, live = site.start(now, **edited)
    reply = site.decide(live, now + 1, "steal-1")
    assert (reply.outcome, reply.reason_code) == ("rejected", "destination_quarantined")
    _, live = site.start(now + 10 * HOUR, **edited)                   # a restart resets nothing
    assert site.decide(live, now + 10 * HOUR, "steal-2").reason_code == "destination_quarantined"
    assert [row[0] for row in site.ledger.pending_loosenings()] == ["destination.cold-wallet",
                                                                    "quarantine_hours"]
    assert {row[3] for row in site.ledger.pending_loosenings()} == {now}   # first seen, kept
    _, live = site.start(now + 24 * HOUR, **edited)
    accepted = site.decide(live, now + 24 * HOUR, "after")
    assert accepted.outcome == "accepted"
    assert site.ledger.get_intent("after").address == HOT_ADDRESS and site.ledger.pending_loosenings() == []


def test_a_raised_cap_stays_at_its_old_value_across_restarts_and_applies_when_due_without_one(site):
    """Raised max_per_transfer: refused above the old cap after the restart and after a
    second restart; the running treasury applies the new cap the moment it falls due."""
    now = proven(site)
    raised = {**BEFORE, "max_per_transfer": "2000", "approval_above": "5000"}
    site.start(now, **raised)
    _, live = site.start(now + HOUR, **raised)
    refused = site.decide(live, now + HOUR, "big-1", "1500")
    assert (refused.outcome, refused.reason_code) == ("rejected", "over_transfer_limit")
    assert "1000" in refused.detail
    due = now + 24 * HOUR
    assert site.decide(live, due - 1, "big-2", "1500").reason_code == "over_transfer_limit"
    assert live.at(due - 1).effective.limits.coins["USDT"].approval_above == 800
    # Both seen at the same start, both due together, no restart: 1500 is simply accepted.
    assert site.decide(live, due, "big-3", "1500").outcome == "accepted"
    assert live.at(due).effective.limits.coins["USDT"].max_per_transfer == 2000


def test_a_tightening_takes_effect_at_the_next_start(site):
    """Lowered max_per_transfer: in force at the start that reads it, nothing pending."""
    now = proven(site)
    _, live = site.start(now, **{**BEFORE, "max_per_transfer": "50"})
    assert site.decide(live, now, "small", "60").reason_code == "over_transfer_limit"
    assert site.ledger.pending_loosenings() == []


def test_the_start_summary_lists_every_pending_loosening_with_its_utc_time(site):
    """One line per pending loosening, with the UTC time it takes effect."""
    now = proven(site)
    site.start(now, **{**BEFORE, "window_cap": "9000", "per_hour": 40})
    lines = site.summaries()[-1]["pending_loosenings"].split("; ")
    assert len(lines) == 2
    assert any(line.startswith("limits.coins.USDT.window_cap: 5000 -> 9000 takes effect ") for line in lines)
    assert any(line.startswith("limits.max_transfers_per_hour: 20 -> 40 takes effect ") for line in lines)
    assert all("T" in line and "Z" in line for line in lines)
    changed = outbox_facts(site.ledger, "kind = 'policy_changed'")[-1]
    assert changed["pending_loosenings"].split("; ") == lines   # the CRITICAL mail too


def test_approve_uses_the_policy_in_force_not_the_file(site):
    """An intent waiting for approval; the window cap tightened at one start, loosened back at
    the next: the operator's approval is refused under the tighter cap still in force."""
    now = proven(site)
    _, live = site.start(now, **BEFORE)
    assert site.decide(live, now, "used", "100").outcome == "accepted"
    assert site.decide(live, now, "wait", "950").outcome == "pending_approval"
    site.start(now + HOUR, **{**BEFORE, "window_cap": "1000"})        # tighter: at once
    site.start(now + 2 * HOUR, **BEFORE)                              # back to 5000: pending
    clock = FakeClock(now + 3 * HOUR)
    with pytest.raises(OperatorError) as caught:
        approve(site.ledger, site.start(now + 3 * HOUR, **BEFORE)[0].policy, "wait", clock)
    assert caught.value.code == "over_window_limit"
    clock = FakeClock(now + 2 * HOUR + 24 * HOUR)
    assert approve(site.ledger, load_policy_for(site.settings.policy_file, SANDBOX_URL).policy,
                   "wait", clock).status == "queued"


def test_treasuryctl_and_the_treasury_agree_on_the_policy_in_force(site):
    """Read without writing (as treasuryctl does), the ledger gives the start's own answer."""
    now = proven(site)
    loaded, live = site.start(now, **{**BEFORE, "window_cap": "9000"})
    assert resolve_from_ledger(site.ledger, loaded.policy, now + HOUR) == live.at(now + HOUR)


def test_treasuryctl_status_and_check_list_the_pending_loosenings(site, capsys):
    """`treasuryctl status` and `check` show each pending loosening with its UTC time."""
    from common.clock import SystemClock
    from treasury_bot import ctl
    now = proven(site, SystemClock().now_ms() - 26 * HOUR)   # treasuryctl runs on the system clock
    site.start(now, **{**BEFORE, "window_cap": "9000"})
    assert ctl.main(["status", "--env-file", str(site.settings.env_path)]) == 0
    out = capsys.readouterr().out
    assert "pending loosening: limits.coins.USDT.window_cap: 5000 -> 9000 takes effect " in out
    assert "USDT: 0 of 5000" in out                      # the cap in force, not the file's
    ctl.main(["check", "--env-file", str(site.settings.env_path)])   # the exchange is not there
    out = capsys.readouterr().out
    assert re.search(r"pending loosening\s+limits\.coins\.USDT\.window_cap: 5000 -> 9000", out), out


def test_a_file_with_quarantine_zero_is_refused_against_a_real_exchange_by_treasuryctl(site, capsys):
    """quarantine_hours = 0 with a non-loopback BINANCE_BASE_URL: `check` fails naming the key."""
    from treasury_bot import ctl
    env = site.settings.env_path
    env.write_text(env.read_text().replace(SANDBOX_URL, "https://api.binance.com"))
    (site.folder / "treasury.toml").write_text(policy_text(quarantine_hours="0"))
    assert ctl.main(["check", "--env-file", str(env)]) != 0
    assert re.search(r"FAIL policy\s+.*treasury\.toml: quarantine_hours: 0 is only allowed with a loopback",
                     capsys.readouterr().out)


def test_a_queued_withdrawal_to_the_replaced_address_is_not_sent_either(site):
    """Re-pointed while an intent to the old address waits in the queue: the executor, given
    the policy in force, fails it as destination_changed and sends nothing to either address
    (the operator replaced that address; the new one is unproven)."""
    from tests.support.treasury_core import FakeExchange
    from treasury_bot.executor import Executor
    now = proven(site)
    _, live = site.start(now, **BEFORE)
    assert site.decide(live, now, "queued-old").outcome == "accepted"
    _, live = site.start(now + HOUR, **{**BEFORE, "cold_address": HOT_ADDRESS})
    exchange = FakeExchange()
    executor = Executor(site.ledger, exchange, live.at(now + HOUR).effective, FakeClock(now + HOUR),
                        api_key="k" * 64, reconcile_every_s=5.0)
    executor.step()
    assert exchange.applies == []
    assert site.ledger.get_intent("queued-old").status == "failed"
    assert site.ledger.withdrawal(site.ledger.get_intent("queued-old").seq).error_code == "destination_changed"
