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
