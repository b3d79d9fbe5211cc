"""The exchange's own view of each destination (issue 12): the account's address book and
each tag against its network's rules, read at start and after every coin-rules refresh.

The rules are pure (treasury_bot/address_book.py, treasury_bot/tag_rules.py); this is
their shell. At start the findings become start-summary warnings (a tag finding refuses
the start earlier, in treasury_bot/app.py). After each refresh a destination newly found
refused is alerted once (`address_book_missing`, `destination_tag_invalid`); it is alerted
again only after it was fine at some refresh in between (one alert per episode). The
reading is swapped in one assignment (deciding reads `reading` from another thread) and
saved in the ledger (meta `address_book`) for the executor's last look before an apply
and for `treasuryctl approve`.

A failed read keeps the last good reading: decisions go on with it until it is older
than `max_exchange_rules_age_minutes`, then refuse (`exchange_rules_stale`).
"""

from __future__ import annotations

import json

from common.binance import ExchangeError
from common.clock import Clock
from common.logs import get_logger
from treasury_bot.address_book import (UNREAD, AddressBookReading, check_address_book, entries_from_reply,
                                       from_snapshot, to_snapshot)
from treasury_bot.alerts import raised
from treasury_bot.exchange import AddressBookSource
from treasury_bot.ledger import Ledger
from treasury_bot.policy_model import Policy
from treasury_bot.tag_rules import check_tags
from treasury_bot.withdraw_rules import CoinRules

log = get_logger("treasury.destination_watch")
META_KEY = "address_book"


def save_reading(ledger: Ledger, reading: AddressBookReading) -> None:
    ledger.set_meta(META_KEY, json.dumps(to_snapshot(reading)))


def saved_reading(ledger: Ledger) -> AddressBookReading | None:
    """The reading the treasury saved last; None when it never saved one (a ledger from
    before issue 12, or a treasury that has not started since)."""
    text = ledger.get_meta(META_KEY)
    if text is None:
        return None
    try:
        return from_snapshot(json.loads(text))
    except ValueError:
        return UNREAD


class DestinationWatch:
    def __init__(self, client: AddressBookSource, policy: Policy, clock: Clock) -> None:
        self.client = client
        self.policy = policy          # the policy file's destinations (what the operator edits)
        self.clock = clock
        self.reading: AddressBookReading = UNREAD
        self._book_alerted: set[str] = set()
        self._tag_alerted: set[str] = set()

    def read_book(self) -> str | None:
        """Read the address book; on failure keep the last reading and say why."""
        try:
            items = self.client.withdraw_address_list()
        except ExchangeError as exc:
            log.warning("address_book_read_failed", error=str(exc))
            return str(exc)
        self.reading = AddressBookReading(entries_from_reply(items), self.clock.now_ms())
        return None

    def start(self, ledger: Ledger, rules: CoinRules) -> list[str]:
        """The start's reading: saved, and its findings as warning lines (they open their
        episodes: the start summary has told them)."""
        error = self.read_book()
        with ledger.transaction():
            save_reading(ledger, self.reading)
        self._tag_alerted = {f.label for f in check_tags(self.policy, rules)}
        if error is not None:
            return [f"address book: cannot read it ({error}); intents are refused "
                    "(exchange_rules_stale) until it is read"]
        findings = check_address_book(self.policy, self.reading.entries)
        self._book_alerted = {f.label for f in findings}
        for finding in findings:
            log.warning("address_book_audit", destination=finding.label, detail=finding.detail)
        return [f"{f.line()}; its intents are refused (not_in_address_book)" for f in findings]

    def after_refresh(self, ledger: Ledger, rules: CoinRules) -> None:
        """After a coin-rules refresh: read the book again, alert what is newly refused."""
        error = self.read_book()
        now = self.clock.now_ms()
        alerts = []
        if error is None:
            findings = check_address_book(self.policy, self.reading.entries)
            alerts += [raised.address_book_missing(self._destination(f.label), f.detail, now)
                       for f in findings if f.label not in self._book_alerted]
            self._book_alerted = {f.label for f in findings}
        tags = check_tags(self.policy, rules)
        alerts += [raised.destination_tag_invalid(self._destination(f.label), f.detail, now)
                   for f in tags if f.label not in self._tag_alerted]
        self._tag_alerted = {f.label for f in tags}
        with ledger.transaction():
            if error is None:
                save_reading(ledger, self.reading)
            for alert in alerts:
                ledger.enqueue(alert)
        for alert in alerts:
            log.warning("destination_refused", kind=alert.kind, destination=alert.facts.get("destination"))

    def _destination(self, label: str):
        destination = self.policy.destination(label)
        if destination is None:  # findings come from this very policy
            raise LookupError(f"no destination {label!r}")
        return destination
