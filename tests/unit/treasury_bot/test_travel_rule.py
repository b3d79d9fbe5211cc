import json

import pytest

from treasury_bot.travel_rule import QuestionnaireError, validate

SELF_UNHOSTED = {"isAddressOwner": 1, "country": "jp", "city": "tokyo", "sendTo": 2,
                 "isAttested": True}


def test_complete_japan_self_questionnaire_is_accepted_as_json():
    """A Japan send-to-myself questionnaire with every required field yields its JSON."""
    assert json.loads(validate("cold-1", "JP", SELF_UNHOSTED)) == SELF_UNHOSTED


def test_missing_questionnaire_is_an_error_naming_the_destination():
    """No questionnaire for a travel-rule account is refused with the destination named."""
    with pytest.raises(QuestionnaireError, match="cold-1"):
        validate("cold-1", "JP", None)


def test_vasp_destination_without_vasp_fields_is_refused():
    """sendTo=1 (a VASP) requires vasp and vaspCountry, per Binance's Japan table."""
    q = dict(SELF_UNHOSTED, sendTo=1)
    with pytest.raises(QuestionnaireError, match="vasp, vaspCountry"):
        validate("ex-1", "JP", q)


def test_unattested_questionnaire_is_refused():
    """isAttested must be true."""
    with pytest.raises(QuestionnaireError, match="isAttested"):
        validate("cold-1", "JP", dict(SELF_UNHOSTED, isAttested=False))


# -- the route for the whole policy (travel_rule_for) ---------------------------------------

from dataclasses import dataclass  # noqa: E402

from treasury_bot.travel_rule import TravelRule, canonical_json, travel_rule_for  # noqa: E402


@dataclass(frozen=True)
class Dest:
    label: str
    questionnaire: dict | None
    coin: str = "USDT"
    network: str = "TRX"
    address: str = "TAddr1"
    tag: str | None = None


def test_a_nil_account_needs_no_questionnaires_and_gets_no_route():
    """NIL (or empty): None, whatever the destinations hold."""
    assert travel_rule_for("NIL", [Dest("a", None)]) is None
    assert travel_rule_for("", [Dest("a", None)]) is None


def test_a_japan_account_gets_each_destinations_json_keyed_by_what_the_executor_sends():
    """The questionnaire is found by coin, network, address and tag; the country is upper-cased."""
    rule = travel_rule_for("jp", [Dest("a", SELF_UNHOSTED), Dest("b", SELF_UNHOSTED, address="TAddr2", tag="7")])
    assert isinstance(rule, TravelRule) and rule.country == "JP"
    assert json.loads(rule.questionnaire_for("USDT", "TRX", "TAddr2", "7")) == SELF_UNHOSTED
    assert rule.questionnaire_for("USDT", "TRX", "TAddr2", None) is None
    assert "localentity/withdraw/apply" in rule.describe() and "field by field" in rule.describe()


def test_the_first_destination_without_a_questionnaire_stops_the_route_naming_it():
    """One destination lacking it: QuestionnaireError naming that label."""
    with pytest.raises(QuestionnaireError, match="'b'.*missing"):
        travel_rule_for("JP", [Dest("a", SELF_UNHOSTED), Dest("b", None)])


def test_another_entitys_questionnaire_is_sent_as_written_but_must_not_be_empty():
    """No local rules for, say, NZ: a non-empty table passes, checked by Binance; an empty one does not."""
    rule = travel_rule_for("NZ", [Dest("a", {"beneficiaryName": "Ann"})])
    assert rule.questionnaire_for("USDT", "TRX", "TAddr1", None) == '{"beneficiaryName":"Ann"}'
    assert "Binance checks" in rule.describe()
    with pytest.raises(QuestionnaireError, match="empty"):
        travel_rule_for("NZ", [Dest("a", {})])


def test_the_json_sent_is_the_same_for_the_same_answers_in_any_order():
    """Sorted keys, no spaces, non-ASCII kept as text (the client percent-encodes it)."""
    assert canonical_json({"b": 1, "a": "東京"}) == canonical_json({"a": "東京", "b": 1}) == '{"a":"東京","b":1}'
