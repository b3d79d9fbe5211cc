"""Travel Rule questionnaires (pure, issue 12 item 5): each destination's, checked against
the account's local entity, as the JSON each withdrawal carries.

Binance accounts under some local entities withdraw through
POST /sapi/v1/localentity/withdraw/apply with a mandatory `questionnaire` (a JSON string
whose fields depend on the entity):
https://developers.binance.com/docs/wallet/travel-rule/withdraw
https://developers.binance.com/docs/wallet/travel-rule/withdraw-questionnaire
Which entity applies is told by questionnaire-requirements (`questionnaireCountryCode`,
"NIL" for none). Japan's fields are checked here field by field (`LOCALLY_CHECKED`); for
the other entities the questionnaire must be a non-empty table and Binance checks its
fields (their tables differ and change; a wrong one is refused before any money moves).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from common.binance.endpoints import NO_TRAVEL_RULE

LOCALLY_CHECKED = frozenset({"JP"})


class QuestionnaireError(ValueError):
    """A destination's questionnaire is missing or malformed for the account's entity."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"destination {destination!r}: travel-rule questionnaire {reason}")
        self.destination = destination
        self.reason = reason


# Japan, from the withdraw-questionnaire page: always-required fields, then the
# conditional ones (*1 when isAddressOwner is 2, *2 when sendTo is 1).
_JP_ALWAYS = ("isAddressOwner", "country", "city", "sendTo", "isAttested")
_JP_OTHER_BENEFICIARY = ("bnfType", "kanjiName", "kanaName", "latinName")
_JP_TO_VASP = ("vasp", "vaspCountry")


def _missing(q: Mapping[str, object], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if q.get(n) in (None, "")]


def validate(destination: str, country: str, questionnaire: object) -> str:
    """Check one destination's questionnaire for `country`; return the JSON to send."""
    if questionnaire is None:
        raise QuestionnaireError(destination, "is missing")
    if not isinstance(questionnaire, Mapping):
        raise QuestionnaireError(destination, "must be a mapping")
    if not questionnaire:
        raise QuestionnaireError(destination, "is empty")
    code = country.upper()
    if code not in LOCALLY_CHECKED:
        return canonical_json(questionnaire)
    q = questionnaire
    needed = list(_JP_ALWAYS)
    if q.get("isAddressOwner") == 2:
        needed += _JP_OTHER_BENEFICIARY
    if q.get("sendTo") == 1:
        needed += _JP_TO_VASP
    missing = _missing(q, tuple(needed))
    if missing:
        raise QuestionnaireError(destination, "lacks " + ", ".join(missing))
    if q.get("isAddressOwner") not in (1, 2) or q.get("sendTo") not in (1, 2):
        raise QuestionnaireError(destination, "has isAddressOwner/sendTo outside 1 or 2")
    if q.get("isAttested") is not True:
        raise QuestionnaireError(destination, "must have isAttested true")
    return canonical_json(q)


def canonical_json(questionnaire: Mapping[str, object]) -> str:
    """The questionnaire as sent: sorted keys, no spaces (the same text for the same answers)."""
    return json.dumps(dict(questionnaire), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


DestinationKey = tuple[str, str, str, str | None]   # coin, network, address, tag


@dataclass(frozen=True)
class TravelRule:
    """The account's Travel Rule route: its entity's country, and each destination's
    questionnaire as sent, by what the executor knows of a withdrawal."""

    country: str
    questionnaires: Mapping[DestinationKey, str]

    def questionnaire_for(self, coin: str, network: str, address: str, tag: str | None) -> str | None:
        return self.questionnaires.get((coin, network, address, tag))

    def describe(self) -> str:
        checked = ("each checked field by field" if self.country.upper() in LOCALLY_CHECKED
                   else "Binance checks their fields (no local rules for this entity)")
        return (f"account under the {self.country} local entity: withdrawals go through "
                f"/sapi/v1/localentity/withdraw/apply with {len(self.questionnaires)} destination "
                f"questionnaire(s), {checked}")


def travel_rule_for(country: str, destinations) -> TravelRule | None:
    """None when the account needs no questionnaire ("NIL"); else every destination's
    questionnaire, validated: the first one missing or wrong raises QuestionnaireError."""
    if not country or country.upper() == NO_TRAVEL_RULE:
        return None
    questionnaires = {
        (d.coin, d.network, d.address, d.tag): validate(d.label, country, d.questionnaire)
        for d in destinations}
    return TravelRule(country.upper(), questionnaires)
