"""demo/policy_text.py: the one builder of policy TOML writes a file the treasury reads as given."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from demo.policy_text import CoinTable, DestinationTable, policy_toml
from treasury_bot.policy_file import parse_policy

COLD = DestinationTable("cold-wallet", "TCo1dAddress")


def test_every_part_given_lands_where_the_policy_file_reads_it():
    text = policy_toml(
        [DestinationTable("cold-wallet", "TCo1dAddress", tag="77", max_per_transfer="900", window_cap="2000",
                          clients=("signal", "signal-2.backup")),
         DestinationTable("btc.vault", "bc1qvault", coin="BTC", network="BTC")],
        coins={"USDT": CoinTable("1000", "5000", "800"), "BTC": CoinTable(Decimal("0.5"), "1")},
        quarantine_hours="0.5", allow_trading_key=True, allow_unrestricted_ip=False, window_hours=12,
        max_transfers_per_hour=7, max_intent_age_seconds=120, min_seconds_between_withdrawals="0.25",
        poll_interval_seconds=9, stuck_after_minutes=30, min_free_disk_mb=5, max_exchange_rules_age_minutes=10,
        client_budgets={"signal-2.backup": 3}, reconcile_grace_seconds=2, reconcile_deadline_minutes=5)
    policy = parse_policy(text)
    assert (policy.quarantine_hours, policy.allow_trading_key, policy.allow_unrestricted_ip) == (
        Decimal("0.5"), True, False)
    limits = policy.limits
    assert (limits.window_hours, limits.max_transfers_per_hour, limits.max_intent_age_seconds,
            limits.min_seconds_between_withdrawals, limits.poll_interval_seconds, limits.stuck_after_minutes,
            limits.min_free_disk_mb, limits.max_exchange_rules_age_minutes) == (
        12, 7, 120, Decimal("0.25"), 9, 30, 5, 10)
    assert limits.coins["USDT"].approval_above == 800 and limits.coins["BTC"].max_per_transfer == Decimal("0.5")
    assert limits.clients["signal-2.backup"].max_requests_per_minute == 3
    assert (policy.executor.reconcile_grace_seconds, policy.executor.reconcile_deadline_minutes) == (2, 5)
    cold, vault = policy.destinations
    assert (cold.tag, cold.max_per_transfer, cold.window_cap, cold.clients) == (
        "77", 900, 2000, ("signal", "signal-2.backup"))
    assert (vault.label, vault.coin, vault.network, vault.clients) == ("btc.vault", "BTC", "BTC", None)


def test_a_part_left_at_none_leaves_its_key_out_so_the_files_default_applies():
    text = policy_toml([COLD], quarantine_hours=None, window_hours=None, poll_interval_seconds=None)
    data = tomllib.loads(text)
    assert "quarantine_hours" not in data and "executor" not in data and "allow_trading_key" not in data
    assert "window_hours" not in data["limits"] and "approval_above" not in data["limits"]["coins"]["USDT"]
    policy = parse_policy(text)
    assert (policy.quarantine_hours, policy.limits.window_hours, policy.limits.poll_interval_seconds) == (24, 24, 15)


def test_the_shared_defaults_are_a_usable_file():
    """Quarantine 0, 20 an hour, no spacing, polled at the floor; USDT 1000 / 5000."""
    policy = parse_policy(policy_toml([COLD]))
    assert policy.quarantine_hours == 0 and policy.limits.max_transfers_per_hour == 20
    assert (policy.limits.min_seconds_between_withdrawals, policy.limits.poll_interval_seconds) == (0, 6)
    assert (policy.limits.coins["USDT"].max_per_transfer, policy.limits.coins["USDT"].window_cap) == (1000, 5000)


def test_amounts_are_written_as_strings_and_numbers_as_numbers():
    text = policy_toml([COLD], coins={"USDT": CoinTable(Decimal("1000.50"), "5000")}, quarantine_hours=Decimal(1))
    assert 'max_per_transfer = "1000.50"' in text and "quarantine_hours = 1\n" in text


def test_a_note_follows_its_key_in_the_notes_column():
    text = policy_toml([COLD], notes={"limits.poll_interval_seconds": "the floor", "quarantine_hours": "demo"})
    assert "poll_interval_seconds = 6            # the floor\n" in text
    assert text.startswith("quarantine_hours = 0                 # demo\n")
    assert parse_policy(text).limits.poll_interval_seconds == 6


def test_a_note_for_a_key_the_file_does_not_have_is_refused():
    with pytest.raises(ValueError, match="limits.poll_seconds"):
        policy_toml([COLD], notes={"limits.poll_seconds": "a typo"})
