"""Issue 12 with a real ledger: the decider refuses an intent to a destination missing from
the exchange's address book (no apply is ever sent), the executor fails a queued one whose
entry left the book since its decision (before an apply is spent on -4035), and the watch
alerts a destination newly missing, or newly refused for its tag, once per episode."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from common.binance import ExchangeUnavailable, WithdrawAddress
from common.clock import FakeClock
from tests.support.ledger_peek import outbox_facts
from tests.support.treasury import COIN_RULES, COLD_ADDRESS, HOT_ADDRESS, TRX_RULE
from tests.support.treasury_core import (T0, FakeExchange, accept, alerts, context, incoming, make_policy,
                                         open_ledger, statuses)
from treasury_bot.address_book import AddressBookReading, BookEntry
from treasury_bot.coin_rules import to_snapshot
from treasury_bot.decider import decide_batch
from treasury_bot.destination_watch import DestinationWatch, save_reading, saved_reading
from treasury_bot.executor import Executor
from treasury_bot.operator import OperatorError, approve

COLD_ENTRY = WithdrawAddress(address=COLD_ADDRESS, coin="USDT", network="TRX", white_status=True)
HOT_ENTRY = WithdrawAddress(address=HOT_ADDRESS, coin="USDT", network="TRX", white_status=True)


@dataclass
class ScriptedBook:
    """The watch's port (AddressBookSource): answers `entries`, or raises `error`."""

    entries: list = field(default_factory=lambda: [COLD_ENTRY, HOT_ENTRY])
    error: Exception | None = None
    reads: int = 0

    def withdraw_address_list(self):
        self.reads += 1
        if self.error is not None:
            raise self.error
        return list(self.entries)


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


def test_the_decider_refuses_a_destination_missing_from_the_book_and_journals_it(ledger):
    """not_in_address_book, status denied, an intent_rejected alert; the other destination is accepted."""
    policy = make_policy()
    clock = FakeClock(T0)
    reading = AddressBookReading((BookEntry("USDT", "TRX", HOT_ADDRESS, None, True),), T0)
    ctx = dataclasses.replace(context(policy, T0), rules_fetched_at_ms=T0, address_book=reading)
    plan = decide_batch(ledger, [incoming("ab-1", created_at=T0), incoming("ab-2", created_at=T0,
                                                                            destination="hot-wallet", client="other")],
                        ctx)
    assert [(r.outcome, r.reason_code) for r in plan.replies] == [("rejected", "not_in_address_book"),
                                                                 ("accepted", None)]
    assert ledger.get_intent("ab-1").status == "denied"
    assert alerts(ledger, "intent_rejected") == [("intent_rejected", "WARNING", "ab-1")]
    assert outbox_facts(ledger)[0]["reason_code"] == "not_in_address_book"
    exchange = FakeExchange()
    executor = Executor(ledger, exchange, policy, clock)
    assert executor.step() is True and executor.step() is False
    assert [a["withdraw_order_id"] for a in exchange.applies] == ["ab-2"]  # never one for ab-1


def test_a_queued_intent_whose_entry_left_the_book_fails_without_an_apply(ledger):
    """Decided while the book held cold-wallet; the saved reading no longer does: failed, not sent."""
    policy = make_policy()
    clock = FakeClock(T0)
    accept(ledger, policy, clock, "q-1")
    with ledger.transaction():
        save_reading(ledger, AddressBookReading((BookEntry("USDT", "TRX", HOT_ADDRESS, None, True),), T0))
    exchange = FakeExchange()
    Executor(ledger, exchange, policy, clock).step()
    assert exchange.applies == []
    assert statuses(ledger, "q-1") == ["queued", "failed"]
    withdrawal = ledger.withdrawal(ledger.get_intent("q-1").seq)
    assert withdrawal.error_code == "not_in_address_book" and withdrawal.finished_at == T0
    assert alerts(ledger) == [("withdrawal_failed", "CRITICAL", "q-1")]
    assert "not_in_address_book" in outbox_facts(ledger)[0]["detail"]


def test_a_queued_intent_still_in_the_book_is_sent(ledger):
    """The saved reading holds cold-wallet: the apply goes out as before."""
    policy = make_policy()
    clock = FakeClock(T0)
    accept(ledger, policy, clock, "q-2")
    with ledger.transaction():
        save_reading(ledger, AddressBookReading((BookEntry("USDT", "TRX", COLD_ADDRESS, None, True),), T0))
    exchange = FakeExchange()
    Executor(ledger, exchange, policy, clock).step()
    assert [a["withdraw_order_id"] for a in exchange.applies] == ["q-2"]


def test_the_start_reading_is_saved_and_its_findings_are_warnings_not_alerts(ledger):
    """At start: hot-wallet missing is a warning line; nothing is alerted (the start summary tells it)."""
    book = ScriptedBook(entries=[COLD_ENTRY])
    watch = DestinationWatch(book, make_policy(), FakeClock(T0))
    warnings = watch.start(ledger, COIN_RULES)
    assert warnings == ["destination hot-wallet: its address is not in the exchange's address book; "
                        "its intents are refused (not_in_address_book)"]
    assert saved_reading(ledger) == watch.reading and watch.reading.fetched_at_ms == T0
    watch.after_refresh(ledger, COIN_RULES)
    assert alerts(ledger) == []  # the same episode: already told at start


def test_a_destination_removed_at_run_time_is_alerted_once_per_episode(ledger):
    """Missing at two refreshes: one alert; back, then missing again: a second alert."""
    book = ScriptedBook()
    clock = FakeClock(T0)
    watch = DestinationWatch(book, make_policy(), clock)
    assert watch.start(ledger, COIN_RULES) == []
    book.entries = [HOT_ENTRY]
    watch.after_refresh(ledger, COIN_RULES)
    watch.after_refresh(ledger, COIN_RULES)
    assert alerts(ledger) == [("address_book_missing", "WARNING", None)]
    facts = outbox_facts(ledger)[0]
    assert (facts["destination"], facts["address"], facts["network"]) == ("cold-wallet", COLD_ADDRESS, "TRX")
    assert [e.address for e in saved_reading(ledger).entries] == [HOT_ADDRESS]
    book.entries = [COLD_ENTRY, HOT_ENTRY]
    watch.after_refresh(ledger, COIN_RULES)
    book.entries = [HOT_ENTRY]
    watch.after_refresh(ledger, COIN_RULES)
    assert len(alerts(ledger, "address_book_missing")) == 2


def test_a_failed_read_keeps_the_last_reading_and_alerts_nothing(ledger):
    """The exchange down for the list: the last good reading stays (and ages); no alert, no loss."""
    book = ScriptedBook()
    clock = FakeClock(T0)
    watch = DestinationWatch(book, make_policy(), clock)
    watch.start(ledger, COIN_RULES)
    first = watch.reading
    clock.advance(60_000)
    book.error = ExchangeUnavailable("connection refused")
    watch.after_refresh(ledger, COIN_RULES)
    assert watch.reading == first and saved_reading(ledger) == first
    assert alerts(ledger) == []


def test_an_unreadable_book_at_start_is_a_warning_and_a_reading_that_refuses(ledger):
    """No reading at all: the start says so, and decisions refuse (exchange_rules_stale)."""
    watch = DestinationWatch(ScriptedBook(error=ExchangeUnavailable("down")), make_policy(), FakeClock(T0))
    [warning] = watch.start(ledger, COIN_RULES)
    assert warning.startswith("address book: cannot read it") and "exchange_rules_stale" in warning
    assert saved_reading(ledger).fetched_at_ms is None


def test_a_tag_newly_refused_by_a_refresh_is_alerted_once(ledger):
    """The network starts requiring a tag (withdrawTag true): one destination_tag_invalid per destination."""
    watch = DestinationWatch(ScriptedBook(), make_policy(), FakeClock(T0))
    watch.start(ledger, COIN_RULES)
    tagged = {("USDT", "TRX"): dataclasses.replace(TRX_RULE, withdraw_tag=True, memo_regex="^[0-9]+$")}
    watch.after_refresh(ledger, tagged)
    watch.after_refresh(ledger, tagged)
    assert alerts(ledger) == [("destination_tag_invalid", "WARNING", None)] * 2
    assert sorted(f["destination"] for f in outbox_facts(ledger)) == ["cold-wallet", "hot-wallet"]


def test_approve_rechecks_the_saved_address_book_and_refuses_with_its_code(ledger):
    """treasuryctl approve: cold-wallet gone from the saved reading -> refused, the intent keeps waiting."""
    policy = make_policy(approval_above="500", cold_max=None)
    clock = FakeClock(T0)
    with ledger.transaction():
        ledger.save_coin_rules(to_snapshot(COIN_RULES), T0)
        save_reading(ledger, AddressBookReading((BookEntry("USDT", "TRX", HOT_ADDRESS, None, True),), T0))
    assert accept(ledger, policy, clock, "ap-1", "600").status == "pending_approval"
    with pytest.raises(OperatorError) as caught:
        approve(ledger, policy, "ap-1", clock)
    assert caught.value.code == "not_in_address_book"
    assert ledger.get_intent("ap-1").status == "pending_approval"
