"""Tests for treasury_bot/policy.py: the pure decision on a transfer intent (DESIGN section 3)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.binance import Amount, CoinConfig, NetworkConfig
from demo.policy_text import CoinTable, DestinationTable, policy_toml
from treasury_bot.policy import IntentFacts, decide, recheck_for_approval
from treasury_bot.policy_file import parse_policy
from treasury_bot.policy_model import Policy
from treasury_bot.usage import CountedTransfer, Usage, summarize_usage
from treasury_bot.verdict import ACCEPTED, OUTCOMES, PENDING_APPROVAL, REASON_CODES, REJECTED, Verdict
from treasury_bot.withdraw_rules import NetworkRule, coin_rules_from_config

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

NOW = 1_700_000_000_000
HOUR = 3_600_000
D = Decimal

HOT = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"
POLICY = parse_policy(policy_toml(
    [DestinationTable("cold-wallet", "TQ5NbRmLKdSCzxRBZWmQqF3PBRGY2cmQpz", tag="12345", max_per_transfer="500",
                      window_cap="2000", clients=("signal",)),
     DestinationTable("hot-wallet", HOT),
     DestinationTable("btc-vault", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", coin="BTC", network="BTC"),
     DestinationTable("sealed", HOT, clients=())],
    coins={"USDT": CoinTable(max_per_transfer="3000", window_cap="10000", approval_above="2500"),
           "BTC": CoinTable(max_per_transfer="0.5", window_cap="1")},
    quarantine_hours=24, max_transfers_per_hour=3,
    # Left to the file's defaults: deciding does not read them.
    min_seconds_between_withdrawals=None, poll_interval_seconds=None, stuck_after_minutes=None))

TRX_RULE = NetworkRule(coin="USDT", network="TRX", withdraw_enable=True, withdraw_min=D("1"),
                       withdraw_max=D("10000"), withdraw_multiple=D("0.000001"),
                       address_regex="^T[1-9A-HJ-NP-Za-km-z]{33}$", memo_regex="^[0-9]{1,20}$")
RULES = {
    ("USDT", "TRX"): TRX_RULE,
    ("USDT", "ETH"): dataclasses.replace(TRX_RULE, network="ETH", address_regex="^0x[0-9a-fA-F]{40}$"),
    ("BTC", "BTC"): NetworkRule(coin="BTC", network="BTC", withdraw_enable=True, withdraw_min=D("0.0001"),
                                withdraw_max=D("0"), withdraw_multiple=D("0.00000001"),
                                address_regex="^(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,62}$", memo_regex=""),
}
USABLE = {label: NOW - HOUR for label in ("cold-wallet", "hot-wallet", "btc-vault", "sealed")}


def facts(**changes) -> IntentFacts:
    values = dict(intent_id="i-1", client="signal", coin="USDT", network="TRX",
                  destination="hot-wallet", amount="100", created_at_ms=NOW)
    values.update(changes)
    values["amount"] = D(values["amount"])
    return IntentFacts(**values)


def run(intent: dict | None = None, *, policy: Policy = POLICY, usage: Usage = Usage(),
        rules=RULES, usable=USABLE, now: int = NOW) -> Verdict:
    return decide(facts(**(intent or {})), policy, usage, rules, usable, now)


def rule(coin="USDT", network="TRX", **changes):
    """RULES with one network's rule changed."""
    return {**RULES, (coin, network): dataclasses.replace(RULES[(coin, network)], **changes)}


def destination(which, **changes) -> Policy:
    """POLICY with one destination changed."""
    changed = tuple(msgspec.structs.replace(d, **changes) if d.label == which else d
                    for d in POLICY.destinations)
    return msgspec.structs.replace(POLICY, destinations=changed)


def limits(**changes) -> Policy:
    return msgspec.structs.replace(POLICY, limits=msgspec.structs.replace(POLICY.limits, **changes))


def coin_limits(coin, **changes) -> Policy:
    coins = dict(POLICY.limits.coins)
    coins[coin] = msgspec.structs.replace(coins[coin], **changes)
    return limits(coins=coins)


def sums(hour_count=0, coin=None, dest=None) -> Usage:
    return Usage(hour_count=hour_count, coin_sums=coin or {}, destination_sums=dest or {})


OK = (ACCEPTED, None)
PENDING = (PENDING_APPROVAL, "approval_required")


def no(code):
    return (REJECTED, code)


CASES = [
    pytest.param({}, OK, id="baseline-accepted"),
    # 2. age: age == max is fine, one ms more is stale; 30 s ahead is fine, one ms more is stale
    pytest.param({"intent": {"created_at_ms": NOW - 300_000}}, OK, id="age-exactly-max"),
    pytest.param({"intent": {"created_at_ms": NOW - 300_001}}, no("stale_intent"), id="age-1ms-over-max"),
    pytest.param({"intent": {"created_at_ms": NOW + 30_000}}, OK, id="future-exactly-30s"),
    pytest.param({"intent": {"created_at_ms": NOW + 30_001}}, no("stale_intent"), id="future-1ms-over-30s"),
    pytest.param({"intent": {"created_at_ms": NOW - 10_001}, "policy": limits(max_intent_age_seconds=10)},
                 no("stale_intent"), id="age-follows-policy"),
    pytest.param({"intent": {"created_at_ms": 0}}, no("stale_intent"), id="epoch-zero"),
    # 3. whitelist
    pytest.param({"intent": {"destination": "nowhere"}}, no("unknown_destination"), id="unknown-label"),
    pytest.param({"intent": {"destination": "Hot-Wallet"}}, no("unknown_destination"), id="label-is-case-sensitive"),
    # 4. clients
    pytest.param({"intent": {"destination": "cold-wallet"}}, OK, id="listed-client"),
    pytest.param({"intent": {"destination": "cold-wallet", "client": "signal-2"}}, no("client_not_allowed"),
                 id="unlisted-client"),
    pytest.param({"intent": {"client": "anyone"}}, OK, id="no-clients-list-allows-any"),
    pytest.param({"intent": {"destination": "sealed"}}, no("client_not_allowed"), id="empty-clients-list-allows-none"),
    # 5. coin and network must be the destination's
    pytest.param({"intent": {"network": "ETH"}}, no("coin_network_mismatch"), id="other-network"),
    pytest.param({"intent": {"coin": "BTC", "amount": "0.1"}}, no("coin_network_mismatch"), id="other-coin"),
    pytest.param({"intent": {"destination": "btc-vault", "amount": "0.1"}}, no("coin_network_mismatch"),
                 id="usdt-to-btc-destination"),
    # 6. quarantine: usable from usable_from_ms inclusive; unknown first-seen fails closed
    pytest.param({"usable": {**USABLE, "hot-wallet": NOW}}, OK, id="usable-exactly-now"),
    pytest.param({"usable": {**USABLE, "hot-wallet": NOW + 1}}, no("destination_quarantined"),
                 id="usable-1ms-later"),
    pytest.param({"usable": {}}, no("destination_quarantined"), id="no-first-seen-time"),
    pytest.param({"usable": {"hot-wallet": NOW + POLICY.quarantine_ms}}, no("destination_quarantined"),
                 id="first-seen-now-24h-quarantine"),
    pytest.param({"usable": {"hot-wallet": NOW - 24 * HOUR + POLICY.quarantine_ms}}, OK,
                 id="first-seen-exactly-24h-ago"),
    pytest.param({"usable": {"hot-wallet": NOW + msgspec.structs.replace(POLICY, quarantine_hours=D(0)).quarantine_ms}},
                 OK, id="quarantine-0-usable-at-once"),
    # 7. the exchange's rules
    pytest.param({"rules": {}}, no("withdrawals_disabled"), id="network-not-listed"),
    pytest.param({"rules": rule(withdraw_enable=False)}, no("withdrawals_disabled"), id="withdraw-disabled"),
    pytest.param({"rules": rule(withdraw_min=D("NaN"))}, no("withdrawals_disabled"), id="nan-rule-fails-closed"),
    pytest.param({"rules": rule(withdraw_max=D("-1"))}, no("withdrawals_disabled"), id="negative-rule-fails-closed"),
    pytest.param({"rules": rule(address_regex="^0x[0-9a-fA-F]{40}$")}, no("invalid_destination"),
                 id="address-mismatch"),
    pytest.param({"rules": rule(address_regex="")}, OK, id="empty-address-regex-no-constraint"),
    pytest.param({"rules": rule(address_regex="Rab")}, OK, id="address-regex-is-searched-not-fullmatched"),
    pytest.param({"rules": rule(address_regex="([")}, no("invalid_destination"), id="address-regex-does-not-compile"),
    pytest.param({"rules": rule(address_regex=r"^\p{Alnum}+$")}, no("invalid_destination"),
                 id="java-only-regex-fails-closed"),
    pytest.param({"intent": {"destination": "cold-wallet"}, "rules": rule(memo_regex="^[A-Z]+$")},
                 no("invalid_destination"), id="memo-mismatch"),
    pytest.param({"intent": {"destination": "cold-wallet"}, "rules": rule(memo_regex="(")},
                 no("invalid_destination"), id="memo-regex-does-not-compile"),
    pytest.param({"intent": {"destination": "cold-wallet"}, "rules": rule(memo_regex="")}, OK,
                 id="empty-memo-regex-no-constraint"),
    pytest.param({"rules": rule(memo_regex="^[A-Z]+$")}, OK, id="memo-regex-ignored-without-tag"),
    pytest.param({"intent": {"amount": "1"}}, OK, id="exactly-exchange-minimum"),
    pytest.param({"intent": {"amount": "0.999999"}}, no("below_exchange_minimum"), id="below-exchange-minimum"),
    pytest.param({"intent": {"amount": "2000"}, "rules": rule(withdraw_max=D("2000"))}, OK,
                 id="exactly-exchange-maximum"),
    pytest.param({"intent": {"amount": "2000.000001"}, "rules": rule(withdraw_max=D("2000"))},
                 no("above_exchange_maximum"), id="above-exchange-maximum"),
    pytest.param({"intent": {"amount": "2000"}, "rules": rule(withdraw_max=D("0"))}, OK,
                 id="exchange-maximum-0-means-none"),
    pytest.param({"intent": {"amount": "100.000001"}}, OK, id="a-multiple-of-the-step"),
    pytest.param({"intent": {"amount": "100.0000001"}}, no("not_a_multiple"), id="not-a-multiple-of-the-step"),
    pytest.param({"intent": {"amount": "100.0000001"}, "rules": rule(withdraw_multiple=D("0"))}, OK,
                 id="multiple-0-means-none"),
    pytest.param({"intent": {"amount": "15"}, "rules": rule(withdraw_multiple=D("5"))}, OK, id="multiple-of-5"),
    pytest.param({"intent": {"amount": "17"}, "rules": rule(withdraw_multiple=D("5"))}, no("not_a_multiple"),
                 id="not-multiple-of-5"),
    # 8. per-transfer caps: inclusive; the coin's, then the destination's
    pytest.param({"intent": {"amount": "3000"}}, PENDING, id="exactly-coin-max-per-transfer"),
    pytest.param({"intent": {"amount": "3000.000001"}}, no("over_transfer_limit"), id="coin-max-plus-step"),
    pytest.param({"intent": {"amount": "3000.000000000000000001"}, "rules": rule(withdraw_multiple=D(0))},
                 no("over_transfer_limit"), id="coin-max-plus-smallest-unit"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "500"}}, OK, id="exactly-destination-max"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "500.000000000000000001"},
                  "rules": rule(withdraw_multiple=D(0))}, no("over_transfer_limit"), id="destination-max-plus-smallest-unit"),
    pytest.param({"intent": {"amount": "0.6", "coin": "BTC", "network": "BTC", "destination": "btc-vault"}},
                 no("over_transfer_limit"), id="btc-over-its-coin-max"),
    pytest.param({"policy": msgspec.structs.replace(POLICY, limits=msgspec.structs.replace(
                     POLICY.limits, coins={"BTC": POLICY.limits.coins["BTC"]}))},
                 no("over_transfer_limit"), id="coin-without-limits-cannot-be-withdrawn"),
    # 9. transfers in the last hour: count + 1 > max is refused
    pytest.param({"usage": sums(hour_count=2)}, OK, id="third-transfer-of-3-per-hour"),
    pytest.param({"usage": sums(hour_count=3)}, no("too_many_transfers"), id="fourth-transfer-of-3-per-hour"),
    # 10. window caps: sum after == cap is fine; the coin's, then the destination's
    pytest.param({"intent": {"amount": "1000"}, "usage": sums(coin={"USDT": D("9000")})}, OK,
                 id="coin-window-exactly-at-cap"),
    pytest.param({"intent": {"amount": "1000"}, "usage": sums(coin={"USDT": D("9000.000001")})},
                 no("over_window_limit"), id="coin-window-one-step-over"),
    pytest.param({"intent": {"amount": "1000"}, "usage": sums(coin={"USDT": D("9000.000000000000000001")})},
                 no("over_window_limit"), id="coin-window-smallest-unit-over"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "500"},
                  "usage": sums(coin={"USDT": D("1500")}, dest={"cold-wallet": D("1500")})}, OK,
                 id="destination-window-exactly-at-cap"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "500"},
                  "usage": sums(coin={"USDT": D("1500.000001")}, dest={"cold-wallet": D("1500.000001")})},
                 no("over_window_limit"), id="destination-window-one-step-over"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "100"},
                  "usage": sums(coin={"USDT": D("9950")}, dest={"cold-wallet": D("0")})},
                 no("over_window_limit"), id="coin-window-counts-every-destination"),
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "100"},
                  "usage": sums(coin={"BTC": D("100"), "USDT": D("1999")}, dest={"hot-wallet": D("1999")})},
                 OK, id="other-coins-and-destinations-do-not-count"),
    # 11. approval only strictly above approval_above
    pytest.param({"intent": {"amount": "2500"}}, OK, id="exactly-approval-above"),
    pytest.param({"intent": {"amount": "2500.000001"}}, PENDING, id="just-above-approval-above"),
    pytest.param({"intent": {"amount": "0.5", "coin": "BTC", "network": "BTC", "destination": "btc-vault"}}, OK,
                 id="no-approval-above-for-btc"),
    # decimal spellings are the same amount
    pytest.param({"intent": {"amount": "2500.000"}}, OK, id="trailing-zeros-at-approval-edge"),
    pytest.param({"intent": {"amount": "0500.00", "destination": "cold-wallet"}}, OK,
                 id="leading-zeros-at-destination-max"),
    pytest.param({"intent": {"amount": "20.000"}, "usage": sums(coin={"USDT": D("9980")})}, OK,
                 id="spelled-amount-fills-window-exactly"),
]


@pytest.mark.parametrize("changes,expected", CASES)
def test_decide_applies_each_rule_with_its_boundary(changes, expected):
    """Each DESIGN rule refuses exactly past its boundary and lets the boundary itself through."""
    verdict = run(**changes)
    assert (verdict.outcome, verdict.reason_code) == expected, verdict.detail
    assert verdict.detail


def test_first_failing_rule_wins_in_design_order():
    """With every rule failing, fixing them one by one reveals the codes in DESIGN's order."""
    intent = {"created_at_ms": NOW - HOUR, "destination": "nowhere", "client": "intruder",
              "network": "ETH", "amount": "3000.0000001"}
    policy = destination("cold-wallet", address="0x" + "a" * 40)
    state = {"intent": intent, "policy": policy, "rules": rule(withdraw_enable=False),
             "usable": {"cold-wallet": NOW + 1}, "usage": sums(hour_count=3, coin={"USDT": D("9999")})}
    steps = [
        ("stale_intent", lambda s: s["intent"].update(created_at_ms=NOW)),
        ("unknown_destination", lambda s: s["intent"].update(destination="cold-wallet")),
        ("client_not_allowed", lambda s: s["intent"].update(client="signal")),
        ("coin_network_mismatch", lambda s: s["intent"].update(network="TRX")),
        ("destination_quarantined", lambda s: s.update(usable=USABLE)),
        ("withdrawals_disabled", lambda s: s.update(rules=rule(withdraw_min=D("5000")))),
        ("invalid_destination", lambda s: s.update(policy=POLICY)),
        ("below_exchange_minimum", lambda s: s.update(rules=rule(withdraw_max=D("2000")))),
        ("above_exchange_maximum", lambda s: s.update(rules=rule())),
        ("not_a_multiple", lambda s: s["intent"].update(amount="600")),
        ("over_transfer_limit", lambda s: s["intent"].update(destination="hot-wallet", amount="2600")),
        ("too_many_transfers", lambda s: s.update(usage=sums(hour_count=2, coin={"USDT": D("9999")}))),
        ("over_window_limit", lambda s: s.update(usage=sums(hour_count=2))),
        ("approval_required", lambda s: s["intent"].update(amount="2500")),
        (None, None),
    ]
    seen = []
    for expected, fix in steps:
        verdict = run(**state)
        seen.append(verdict.reason_code)
        assert verdict.reason_code == expected, (seen, verdict.detail)
        if fix is not None:
            fix(state)
    assert run(**state).outcome == ACCEPTED


@pytest.mark.parametrize("changes,detail", [
    pytest.param({"intent": {"destination": "cold-wallet", "amount": "500.01"}},
                 "500.01 USDT is over cold-wallet's max_per_transfer 500", id="destination-max"),
    pytest.param({"intent": {"amount": "3500"}}, "3500 USDT is over the USDT max_per_transfer 3000",
                 id="coin-max"),
    pytest.param({"intent": {"created_at_ms": NOW - 300_001}},
                 "intent is 300.001 s old, over max_intent_age_seconds 300", id="stale-old"),
    pytest.param({"intent": {"created_at_ms": NOW + 31_000}},
                 "created_at is 31 s in the future, over the 30 s allowed for clock skew", id="stale-future"),
    pytest.param({"intent": {"network": "ETH"}}, "hot-wallet takes USDT on TRX, not USDT on ETH", id="mismatch"),
    pytest.param({"usable": {**USABLE, "hot-wallet": NOW + 90_000}},
                 "hot-wallet is quarantined until 2023-11-14T22:14:50Z (90 s from now)", id="quarantine"),
    pytest.param({"intent": {"amount": "0.5"}}, "0.5 USDT is below the exchange's withdrawMin 1", id="minimum"),
    pytest.param({"usage": sums(hour_count=3)},
                 "3 transfers accepted in the last hour; max_transfers_per_hour is 3", id="hourly"),
    pytest.param({"intent": {"amount": "1000"}, "usage": sums(coin={"USDT": D("9500")})},
                 "9500 USDT in the last 24 h + 1000 USDT would be 10500, over the USDT window_cap 10000",
                 id="window"),
    pytest.param({"intent": {"amount": "2600.000"}},
                 "2600 USDT is above approval_above 2500: waiting for the operator", id="approval"),
    pytest.param({"rules": rule(address_regex="([")},
                 "hot-wallet's address cannot be checked: the exchange's addressRegex for USDT on TRX "
                 "does not compile", id="bad-regex"),
])
def test_verdict_detail_is_a_sentence_with_the_numbers(changes, detail):
    """The detail tells a person what failed with the amounts and limits, in canonical spelling."""
    assert run(**changes).detail == detail


def test_reason_codes_cover_design_section_3():
    """REASON_CODES lists every code DESIGN names, rule 1's included, and nothing twice."""
    design = {"intent_id_conflict", "stale_intent", "unknown_destination", "client_not_allowed",
              "coin_network_mismatch", "destination_quarantined", "withdrawals_disabled",
              "invalid_destination", "below_exchange_minimum", "above_exchange_maximum",
              "not_a_multiple", "over_transfer_limit", "too_many_transfers", "over_window_limit",
              "approval_required", "operator_rejected",
              "client_rate_limited", "exchange_rules_stale",  # DESIGN section 9
              "not_in_address_book",  # section 9, built in issue 12
              "frozen", "approval_expired"}  # section 9, built in issue 13
    assert set(REASON_CODES) == design and len(REASON_CODES) == len(design)
    assert OUTCOMES == ("accepted", "rejected", "pending_approval")


@pytest.mark.parametrize("amount", [D(0), D("-1"), D("NaN"), D("Infinity"), 1.5, "1"])
def test_intent_facts_refuse_an_amount_that_is_not_a_positive_decimal(amount):
    """IntentFacts holds validated wire data; an amount that is not a positive Decimal is caught early."""
    with pytest.raises(ValueError):
        IntentFacts("i", "signal", "USDT", "TRX", "hot-wallet", amount, NOW)  # type: ignore[arg-type]


# --- a batch: usage.plus between decisions -------------------------------------------

def counted(intent_id="t", coin="USDT", destination="hot-wallet", amount="10", at=NOW - 1, in_window=True):
    return CountedTransfer(intent_id=intent_id, coin=coin, destination=destination, amount=D(amount),
                           accepted_at_ms=at, in_window=in_window)


def decide_batch(count, policy=POLICY):
    """Decide `count` intents of 500 USDT to cold-wallet at one instant, as one batch would."""
    usage, codes = sums(), []
    for _ in range(count):
        verdict = run({"destination": "cold-wallet", "amount": "500"}, usage=usage, policy=policy)
        codes.append(verdict.reason_code)
        if verdict.outcome != REJECTED:
            usage = usage.plus("USDT", "cold-wallet", D("500"))
    return codes


def test_a_batch_sees_its_own_acceptances_in_the_hourly_count():
    """With usage.plus between decisions, the fourth of a batch is over 3 transfers per hour."""
    assert decide_batch(4) == [None, None, None, "too_many_transfers"]


def test_a_batch_sees_its_own_acceptances_in_the_window_sums():
    """With usage.plus between decisions, the fifth 500 is over cold-wallet's 2000 window cap."""
    assert decide_batch(5, limits(max_transfers_per_hour=100)) == [None, None, None, None, "over_window_limit"]


# --- approval ---------------------------------------------------------------------------

PENDING_INTENT = {"intent_id": "big-1", "amount": "2600", "created_at_ms": NOW}
LATER = NOW + 3 * HOUR


def recheck(usage=None, *, policy=POLICY, rules=RULES, usable=USABLE, now=LATER, **changes):
    intent = facts(**{**PENDING_INTENT, **changes})
    return recheck_for_approval(intent, policy, usage or sums(), rules, usable, now)


def test_pending_intent_is_accepted_on_approval_even_though_it_is_old_and_large():
    """Approval does not re-apply the age (2) or approval (11) rules: hours later it is accepted."""
    assert run(PENDING_INTENT).reason_code == "approval_required"
    verdict = recheck()
    assert (verdict.outcome, verdict.reason_code) == OK


def test_approval_uses_usage_that_excludes_the_intent_itself():
    """The caller excludes the intent from usage; with it excluded, a full-to-the-cap window passes."""
    transfers = [counted("big-1", amount="2600", at=NOW), counted("other", amount="7400", at=NOW)]
    excluded = summarize_usage(transfers, LATER, 24, exclude_intent_id="big-1")
    included = summarize_usage(transfers, LATER, 24)
    assert recheck(excluded).outcome == ACCEPTED
    assert recheck(included).reason_code == "over_window_limit"


@pytest.mark.parametrize("changes,code", [
    pytest.param({"usable": {**USABLE, "hot-wallet": LATER + 1}}, "destination_quarantined", id="rule-6"),
    pytest.param({"rules": rule(withdraw_enable=False)}, "withdrawals_disabled", id="rule-7-disabled"),
    pytest.param({"rules": rule(withdraw_max=D("2000"))}, "above_exchange_maximum", id="rule-7-maximum"),
    pytest.param({"policy": coin_limits("USDT", max_per_transfer=D("2000"))}, "over_transfer_limit", id="rule-8"),
    pytest.param({"usage": sums(hour_count=3)}, "too_many_transfers", id="rule-9"),
    pytest.param({"usage": sums(coin={"USDT": D("7400.000001")})}, "over_window_limit", id="rule-10"),
    pytest.param({"policy": destination("hot-wallet", label="renamed")}, "unknown_destination",
                 id="destination-gone-fails-closed"),
    pytest.param({"policy": destination("hot-wallet", clients=("someone-else",))}, "client_not_allowed",
                 id="client-no-longer-allowed"),
    pytest.param({"policy": destination("hot-wallet", network="ETH",
                                        address="0x" + "b" * 40)}, "coin_network_mismatch",
                 id="destination-network-changed"),
])
def test_approval_refuses_with_the_code_of_the_rule_that_fails_now(changes, code):
    """Approving re-checks rules 3-10 (3-5 as guards) at that moment, with their codes."""
    verdict = recheck(**changes)
    assert (verdict.outcome, verdict.reason_code) == (REJECTED, code), verdict.detail


def test_approval_at_the_window_cap_exactly_is_accepted():
    """The inclusive window boundary holds on approval too."""
    assert recheck(sums(coin={"USDT": D("7400")})).outcome == ACCEPTED


# --- exchange rules from common.binance -------------------------------------------------

def test_coin_rules_from_config_reads_the_exchange_coin_list():
    """getall's coin list (common.binance structs) becomes (coin, network) -> NetworkRule, plain Decimals."""
    def network(name, enable, minimum, maximum, multiple, regex):
        return NetworkConfig(network=name, coin="USDT", withdraw_enable=enable, withdraw_min=Amount(minimum),
                             withdraw_max=Amount(maximum), withdraw_integer_multiple=Amount(multiple),
                             withdraw_fee=Amount("1"), address_regex=regex, memo_regex="")
    configs = [CoinConfig(coin="USDT", network_list=[
        network("TRX", True, "10", "10000000", "0.000001", "^T[1-9A-HJ-NP-Za-km-z]{33}$"),
        network("ETH", False, "20", "0", "0", "^(0x)[0-9A-Fa-f]{40}$")])]
    rules = coin_rules_from_config(configs)
    assert set(rules) == {("USDT", "TRX"), ("USDT", "ETH")}
    trx = rules[("USDT", "TRX")]
    assert trx == NetworkRule("USDT", "TRX", True, D("10"), D("10000000"), D("0.000001"),
                              "^T[1-9A-HJ-NP-Za-km-z]{33}$", "")
    assert type(trx.withdraw_min) is Decimal and type(trx.withdraw_multiple) is Decimal
    assert rules[("USDT", "ETH")].withdraw_enable is False


# --- properties -----------------------------------------------------------------------

LABELS = ["cold-wallet", "hot-wallet", "btc-vault", "sealed", "nowhere"]
_amounts = st.one_of(
    st.decimals(min_value=D("0.000000000000000001"), max_value=D("100000"), places=6),
    st.from_regex(r"\A[0-9]{1,45}(\.[0-9]{1,18})?\Z").map(D).filter(lambda d: d > 0),
    st.sampled_from([D("1"), D("500"), D("2500"), D("3000"), D("0.5"), D("0.0001")]),
)
_intents = st.builds(
    IntentFacts, intent_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,36}\Z"),
    client=st.sampled_from(["signal", "other", "x"]), coin=st.sampled_from(["USDT", "BTC", "ETH"]),
    network=st.sampled_from(["TRX", "ETH", "BTC"]), destination=st.sampled_from(LABELS), amount=_amounts,
    created_at_ms=st.integers(min_value=0, max_value=2**53),
)
_sum = st.decimals(min_value=0, max_value=D("20000"), places=6)
_usages = st.builds(Usage, hour_count=st.integers(0, 10),
                    coin_sums=st.dictionaries(st.sampled_from(["USDT", "BTC"]), _sum),
                    destination_sums=st.dictionaries(st.sampled_from(LABELS), _sum))
_rule_sets = st.sampled_from([RULES, {}, rule(withdraw_enable=False), rule(address_regex="(["),
                              rule(withdraw_multiple=D(0), withdraw_max=D(0)), rule(withdraw_min=D("NaN"))])
_usables = st.dictionaries(st.sampled_from(LABELS), st.integers(NOW - 2 * HOUR, NOW + 2 * HOUR))


@PROPERTY
@given(_intents, _usages, _rule_sets, _usables, st.integers(NOW - HOUR, NOW + HOUR))
def test_decide_never_raises_and_always_gives_a_known_verdict(intent, usage, rules, usable, now):
    """For any valid intent facts, decide returns a Verdict with a known outcome and code."""
    verdict = decide(intent, POLICY, usage, rules, usable, now)
    assert verdict.outcome in OUTCOMES
    assert (verdict.reason_code is None) == (verdict.outcome == ACCEPTED)
    assert verdict.reason_code is None or verdict.reason_code in REASON_CODES
    assert verdict.reason_code != "intent_id_conflict" and verdict.reason_code != "operator_rejected"
    assert isinstance(verdict.detail, str) and verdict.detail.isprintable()
    if verdict.outcome == PENDING_APPROVAL:
        assert verdict.reason_code == "approval_required"


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(["cold-wallet", "hot-wallet", "btc-vault"]),
                          st.decimals(min_value=D("0.0001"), max_value=D("3500"), places=4),
                          st.integers(0, 40 * 60_000)), max_size=40))
def test_accepted_transfers_never_push_a_window_over_its_cap(requests):
    """Deciding a stream of intents over time, the counted sums never exceed any cap or the hourly limit."""
    policy = limits(max_transfers_per_hour=10)
    rules = rule(withdraw_multiple=D(0))
    rules = {**rules, ("BTC", "BTC"): dataclasses.replace(rules[("BTC", "BTC")], withdraw_multiple=D(0))}
    now, ledger = NOW, []
    for label, amount, step in requests:
        now += step
        dest = policy.destination(label)
        intent = facts(intent_id=f"i{len(ledger)}", destination=label, coin=dest.coin, network=dest.network,
                       amount=amount if dest.coin == "USDT" else amount / 1000, created_at_ms=now)
        verdict = decide(intent, policy, summarize_usage(ledger, now, 24), rules, USABLE, now)
        if verdict.outcome != REJECTED:
            ledger.append(CountedTransfer(intent.intent_id, intent.coin, label, intent.amount, now, True))
        usage = summarize_usage(ledger, now, 24)
        assert usage.hour_count <= policy.limits.max_transfers_per_hour
        for coin, limit in policy.limits.coins.items():
            assert usage.coin_sum(coin) <= limit.window_cap
        for d in policy.destinations:
            assert d.window_cap is None or usage.destination_sum(d.label) <= d.window_cap
        if verdict.outcome != REJECTED:
            assert intent.amount <= policy.limits.coins[intent.coin].max_per_transfer


def respelled(amount: Decimal, zeros: int) -> Decimal:
    text = format(amount, "f")
    return D(text + ("" if "." in text else ".") + "0" * zeros) if zeros else amount


@PROPERTY
@given(_intents, _usages, st.integers(0, 5))
def test_trailing_zeros_never_change_a_decision(intent, usage, zeros):
    """"20.000" and "20" get the same verdict: amounts are compared as numbers, not text."""
    other = dataclasses.replace(intent, amount=respelled(intent.amount, zeros))
    first = decide(intent, POLICY, usage, RULES, USABLE, NOW)
    second = decide(other, POLICY, usage, RULES, USABLE, NOW)
    assert (first.outcome, first.reason_code) == (second.outcome, second.reason_code)


@PROPERTY
@given(_intents, _usages)
def test_approval_recheck_agrees_with_decide_on_shared_rules(intent, usage):
    """When decide refuses with a code from rules 3-10, approval (same inputs) refuses with it too."""
    intent = dataclasses.replace(intent, created_at_ms=NOW)
    verdict = decide(intent, POLICY, usage, RULES, USABLE, NOW)
    again = recheck_for_approval(intent, POLICY, usage, RULES, USABLE, NOW)
    if verdict.outcome == REJECTED:
        assert again.reason_code == verdict.reason_code
    else:
        assert again.outcome == ACCEPTED


# --- issue 10 defect 8: exchange_rules_stale (DESIGN section 9, rule 7 first) ---------------

MAX_AGE_MS = POLICY.limits.max_exchange_rules_age_minutes * 60_000


def test_rules_exactly_max_age_old_are_still_used():
    verdict = decide(facts(), POLICY, Usage(), RULES, USABLE, NOW, rules_fetched_at_ms=NOW - MAX_AGE_MS)
    assert verdict.outcome == "accepted", verdict


def test_rules_one_ms_over_max_age_are_stale():
    verdict = decide(facts(), POLICY, Usage(), RULES, USABLE, NOW, rules_fetched_at_ms=NOW - MAX_AGE_MS - 1)
    assert (verdict.outcome, verdict.reason_code) == ("rejected", "exchange_rules_stale")
    assert "max_exchange_rules_age_minutes 30" in verdict.detail


def test_stale_rules_are_checked_before_the_other_exchange_rules():
    """Rule 7's first check: a network the stale rules do not list is stale, not disabled."""
    verdict = decide(facts(), POLICY, Usage(), {}, USABLE, NOW, rules_fetched_at_ms=NOW - MAX_AGE_MS - 1)
    assert verdict.reason_code == "exchange_rules_stale"
    # ... and after the rules before 7: an unknown destination is still unknown_destination.
    verdict = decide(facts(destination="nowhere"), POLICY, Usage(), RULES, USABLE, NOW,
                     rules_fetched_at_ms=0)
    assert verdict.reason_code == "unknown_destination"


def test_approval_rechecks_the_rules_age():
    intent = facts(**PENDING_INTENT)
    fresh = recheck_for_approval(intent, POLICY, sums(), RULES, USABLE, LATER, rules_fetched_at_ms=LATER - MAX_AGE_MS)
    assert fresh.outcome == "accepted", fresh
    stale = recheck_for_approval(intent, POLICY, sums(), RULES, USABLE, LATER,
                                 rules_fetched_at_ms=LATER - MAX_AGE_MS - 1)
    assert stale.reason_code == "exchange_rules_stale"


def test_the_new_reason_codes_are_listed():
    assert {"client_rate_limited", "exchange_rules_stale"} <= set(REASON_CODES)
