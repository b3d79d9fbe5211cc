"""treasury_bot/withdraw_quota.py (issue 12 item 4): which intents wait for the exchange's
24-hour quota, when the 80 % and hold alerts are due (once), the saved note, and the lines
`treasuryctl status` / `check` print."""

from __future__ import annotations

from decimal import Decimal

import pytest

from treasury_bot.withdraw_quota import (MAX_HELD_REMEMBERED, QuotaError, QuotaNote, QuotaReading,
                                         after_hold, after_reading, after_release, check_line, hold_for,
                                         note_from_json, note_to_json, summary, value_in_usdt)

T0 = 1_700_000_000_000
D = Decimal


def reading(used: str, total: str = "1000") -> QuotaReading:
    return QuotaReading(total=D(total), used=D(used), read_at_ms=T0)


@pytest.mark.parametrize("coin", ["USDT", "USDC", "FDUSD"])
def test_usd_stablecoins_are_valued_one_to_one(coin):
    """USDT, USDC and FDUSD: their amount is their USD value."""
    assert value_in_usdt(coin, D("12.5")) == D("12.5")


@pytest.mark.parametrize("coin", ["BTC", "ETH", "BUSD", "usdt", "EUR"])
def test_any_other_coin_has_no_known_value(coin):
    """No price feed: any other spelling or coin is unknown (None), never guessed."""
    assert value_in_usdt(coin, D("1")) is None


@pytest.mark.parametrize("used,amount,held", [
    ("0", "1000", False),      # exactly the quota fits
    ("900", "100", False),     # exactly what is left fits
    ("900", "100.01", True),   # a cent more does not
    ("1000", "0.01", True),    # used up
    ("1200", "1", True),       # used beyond the quota (the exchange's own count): nothing left
])
def test_a_stablecoin_intent_waits_only_when_it_exceeds_what_is_left(used, amount, held):
    """The boundary: amount <= remaining is sent, anything above waits."""
    hold = hold_for(reading(used), "USDT", D(amount))
    assert (hold is not None) is held
    if hold is not None:
        assert hold.value_usdt == D(amount) and hold.remaining == max(D(0), D("1000") - D(used))


def test_a_coin_without_a_known_value_is_never_held_the_exchange_decides():
    """1 BTC against a used-up quota: not held (the exchange may refuse it with its own code)."""
    assert hold_for(reading("1000"), "BTC", D("1")) is None


def test_no_reading_holds_nothing():
    """A quota never read (or unreadable) blocks nothing."""
    assert hold_for(None, "USDT", D("1000000")) is None


def test_the_hold_detail_names_the_value_what_is_left_and_the_quota():
    """The alert's and the log's words: value, remaining, total, and that it waits."""
    detail = hold_for(reading("950"), "USDC", D("60")).detail()
    assert detail.startswith("60 USD would exceed the 50 USD left") and "(1000 USD)" in detail and "waits" in detail


@pytest.mark.parametrize("used,high", [("0", False), ("799.99", False), ("800", True), ("1000", True),
                                        ("1500", True)])
def test_high_means_at_least_80_percent_used(used, high):
    """80 % exactly is high; just under is not."""
    assert reading(used).high is high


def test_a_zero_quota_counts_as_fully_used():
    """wdQuota "0": 100 % used, nothing left, every stablecoin intent waits."""
    zero = reading("0", "0")
    assert zero.used_fraction == 1 and zero.high and zero.remaining == 0
    assert hold_for(zero, "USDT", D("0.01")) is not None


@pytest.mark.parametrize("total,used", [(D("-1"), D("0")), (D("1"), D("-1")), (D("NaN"), D("0")),
                                        (D("Infinity"), D("0")), ("1000", D("0"))])
def test_an_impossible_reading_is_a_typed_error(total, used):
    """Negative, non-finite or non-Decimal amounts are refused with QuotaError."""
    with pytest.raises(QuotaError):
        QuotaReading(total=total, used=used, read_at_ms=T0)


def test_the_80_percent_alert_is_due_once_per_crossing():
    """Below, at, above (no repeat), below again (re-armed), above again: two alerts in all."""
    note = QuotaNote()
    due = []
    for used in ("500", "800", "950", "999", "300", "850"):
        note, now_due = after_reading(note, reading(used))
        due.append(now_due)
    assert due == [False, True, False, False, False, True]
    assert note.reading == reading("850") and note.high_alerted


def test_a_first_reading_already_high_alerts_at_once():
    """A fresh note (new ledger) and 90 % used: alerted."""
    assert after_reading(QuotaNote(), reading("900"))[1] is True


def test_the_hold_alert_is_due_once_per_intent_and_again_after_a_release():
    """Held twice: one alert; sent, then held again: a second one; another intent: its own."""
    note, first = after_hold(QuotaNote(), "q-1")
    note, second = after_hold(note, "q-1")
    assert (first, second) == (True, False)
    note, other = after_hold(note, "q-2")
    assert other is True
    note = after_release(note, "q-1")
    assert note.held_alerted == ("q-2",)
    assert after_hold(note, "q-1")[1] is True
    assert after_release(note, "never-held") is note


def test_the_remembered_held_intents_are_bounded():
    """Only the last MAX_HELD_REMEMBERED ids are kept: the note cannot grow without end."""
    note = QuotaNote()
    for i in range(MAX_HELD_REMEMBERED + 5):
        note, _ = after_hold(note, f"q-{i}")
    assert len(note.held_alerted) == MAX_HELD_REMEMBERED and note.held_alerted[0] == "q-5"


def test_the_note_survives_its_json_exactly():
    """Reading (Decimals kept exact), alert state and held ids round-trip."""
    note = QuotaNote(reading=QuotaReading(D("10000.5"), D("1000.25"), T0), high_alerted=True,
                     held_alerted=("q-1", "q-2"))
    assert note_from_json(note_to_json(note)) == note
    assert note_from_json(note_to_json(QuotaNote())) == QuotaNote()


@pytest.mark.parametrize("text", [None, "", "not json", "[]", '{"reading": {"total": "x", "used": "1", '
                                  '"read_at_ms": 1}}', '{"reading": {"total": "-5", "used": "1", "read_at_ms": 1}}',
                                  '{"reading": {"used": "1"}}'])
def test_an_unreadable_note_is_a_fresh_one(text):
    """Nothing saved or garbage: a fresh note (at worst one alert again), never an exception."""
    assert note_from_json(text) == QuotaNote()


def test_the_summary_and_check_lines():
    """Used of total, percent, what is left; check: OK below 80 %, a warning (None) from 80 %."""
    assert summary(reading("250")) == "250 of 1000 USD used (25.0%), 750 USD left"
    ok, name, detail = check_line(reading("250"))
    assert (ok, name) == (True, "withdraw quota") and detail.startswith("250 of 1000 USD used (25.0%)")
    warn, _, detail = check_line(reading("800"))
    assert warn is None and "80.0%" in detail and "at or above 80%" in detail
