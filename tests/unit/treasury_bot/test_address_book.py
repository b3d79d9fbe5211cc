"""treasury_bot/address_book.py (issue 12): the account's address book, read from the reply
Binance documents (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-address),
against the whitelist; and rule 7's `not_in_address_book` in `decide`."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from common.binance import WithdrawAddress
from tests.support.treasury import COIN_RULES, COLD_ADDRESS, HOT_ADDRESS
from tests.support.treasury_core import make_policy
from treasury_bot.address_book import (UNREAD, AddressBookReading, BookEntry, age_problem,
                                       check_address_book, entries_from_reply, from_snapshot,
                                       missing_reason, to_snapshot)
from treasury_bot.policy import IntentFacts, decide, recheck_for_approval
from treasury_bot.usage import Usage

NOW = 1_700_000_000_000
POLICY = make_policy()
COLD = POLICY.destination("cold-wallet")


def reply(*entries: dict) -> tuple[BookEntry, ...]:
    """Entries decoded from JSON in the documented shape (every field), then read."""
    full = [{"addressTag": "", "name": "n", "origin": "", "originType": "others", "whiteStatus": True, **e}
            for e in entries]
    return entries_from_reply(msgspec.json.decode(msgspec.json.encode(full), type=list[WithdrawAddress]))


BOTH = reply({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX"},
             {"address": HOT_ADDRESS, "coin": "USDT", "network": "TRX"})


def test_an_empty_address_tag_reads_as_no_tag():
    """Binance sends addressTag "" for an entry without one; the whitelist's "no tag" is None."""
    [entry] = reply({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX"})
    assert entry == BookEntry("USDT", "TRX", COLD_ADDRESS, None, True)


def test_a_book_holding_every_destination_confirms_them_all():
    """Same coin, network, address and tag, whiteStatus true: no finding."""
    assert check_address_book(POLICY, BOTH) == []


@pytest.mark.parametrize("entry, why", [
    pytest.param({"address": HOT_ADDRESS, "coin": "USDT", "network": "TRX"}, "is not in", id="absent"),
    pytest.param({"address": COLD_ADDRESS, "coin": "USDT", "network": "ETH"}, "USDT on ETH, not USDT on TRX",
                 id="other-network"),
    pytest.param({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX", "addressTag": "99"}, "another tag",
                 id="other-tag"),
    pytest.param({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX", "whiteStatus": False},
                 "whiteStatus false", id="not-whitelisted"),
])
def test_a_destination_the_book_does_not_hold_exactly_is_a_finding_naming_it(entry, why):
    """Address, network, tag and whiteStatus must all agree, or cold-wallet is named."""
    findings = check_address_book(POLICY, reply(entry, {"address": HOT_ADDRESS, "coin": "USDT", "network": "TRX"}))
    assert [f.label for f in findings] == ["cold-wallet"]
    assert why in findings[0].detail and findings[0].line().startswith("destination cold-wallet: ")


def test_a_tagged_destination_needs_the_entry_with_its_tag():
    """A policy tag "777" is confirmed only by an entry with addressTag "777"."""
    tagged = make_policy(cold_tag="777").destination("cold-wallet")
    assert missing_reason(tagged, reply({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX"})) is not None
    assert missing_reason(tagged, reply({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX",
                                         "addressTag": "777"})) is None


def test_a_reading_is_trusted_for_max_exchange_rules_age_minutes_and_never_when_unread():
    """Exactly the age passes; a minute more, or no reading at all, is a problem."""
    reading = AddressBookReading(BOTH, NOW)
    assert age_problem(reading, NOW + 30 * 60_000, 30) is None
    assert "31 min ago" in age_problem(reading, NOW + 31 * 60_000, 30)
    assert "not been read" in age_problem(UNREAD, NOW, 30)


def test_the_saved_reading_round_trips_and_a_damaged_one_reads_as_unread():
    """The ledger's copy (for the executor and approve) is the reading; garbage fails closed."""
    reading = AddressBookReading(reply({"address": COLD_ADDRESS, "coin": "USDT", "network": "TRX",
                                        "addressTag": "5"}), NOW)
    assert from_snapshot(to_snapshot(reading)) == reading
    assert from_snapshot({"entries": [{"coin": "USDT"}], "fetched_at": NOW}) == UNREAD
    assert from_snapshot(None) == UNREAD


def intent(destination: str = "cold-wallet") -> IntentFacts:
    return IntentFacts("i-1", "signal" if destination == "cold-wallet" else "other", "USDT", "TRX",
                       destination, Decimal("100"), NOW)


def run(reading: AddressBookReading | None, destination: str = "cold-wallet", *, fetched: int = NOW):
    return decide(intent(destination), POLICY, Usage(), COIN_RULES, {"cold-wallet": 0, "hot-wallet": 0},
                  NOW, rules_fetched_at_ms=fetched, address_book=reading)


def test_rule_7_refuses_a_destination_missing_from_the_book_with_its_own_code():
    """not_in_address_book, with the destination and why in the detail; the other one passes."""
    reading = AddressBookReading(reply({"address": HOT_ADDRESS, "coin": "USDT", "network": "TRX"}), NOW)
    verdict = run(reading)
    assert (verdict.outcome, verdict.reason_code) == ("rejected", "not_in_address_book")
    assert verdict.detail == "cold-wallet: its address is not in the exchange's address book"
    assert run(reading, "hot-wallet").outcome == "accepted"


def test_an_unread_or_old_book_refuses_as_exchange_rules_stale():
    """Never read, or older than the policy allows: the treasury does not withdraw on it."""
    assert run(UNREAD).reason_code == "exchange_rules_stale"
    assert run(AddressBookReading(BOTH, NOW - 31 * 60_000)).reason_code == "exchange_rules_stale"
    assert run(AddressBookReading(BOTH, NOW - 30 * 60_000)).outcome == "accepted"


def test_stale_coin_rules_are_told_before_the_address_book():
    """Section 9's order: exchange_rules_stale (coin rules) first, then not_in_address_book."""
    verdict = run(AddressBookReading((), NOW), fetched=NOW - 31 * 60_000)
    assert verdict.reason_code == "exchange_rules_stale" and "withdraw rules" in verdict.detail


def test_no_book_given_skips_the_rule_and_approval_rechecks_it():
    """A caller without a reading skips it; approve's re-check applies it like a decision."""
    assert run(None).outcome == "accepted"
    empty = AddressBookReading((), NOW)
    verdict = recheck_for_approval(intent(), POLICY, Usage(), COIN_RULES, {"cold-wallet": 0}, NOW,
                                   rules_fetched_at_ms=NOW, address_book=empty)
    assert verdict.reason_code == "not_in_address_book"
