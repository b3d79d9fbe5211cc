"""Travel Rule questionnaire rules (pure). WIP: issue 12 item 5, only Japan so far.

Binance accounts under some local entities withdraw through
POST /sapi/v1/localentity/withdraw/apply with a mandatory `questionnaire` (a JSON string
whose fields depend on the entity):
https://developers.binance.com/docs/wallet/travel-rule/withdraw
https://developers.binance.com/docs/wallet/travel-rule/withdraw-questionnaire
Which entity applies is told by questionnaire-requirements (`questionnaireCountryCode`).
Not wired into the policy, executor or sandbox yet (see docs/travel-rule-notes.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping


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
    code = country.upper()
    if code != "JP":
        raise QuestionnaireError(destination, f"rules for entity {code!r} are not built yet")
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
    return json.dumps(dict(q), sort_keys=True, separators=(",", ":"))
