"""The Travel Rule's local-entity endpoints (issue 12 item 5), written from Binance's pages:
https://developers.binance.com/docs/wallet/travel-rule/questionnaire-requirements
https://developers.binance.com/docs/wallet/travel-rule/withdraw
https://developers.binance.com/docs/wallet/travel-rule/withdraw-history

- questionnaire-requirements answers the account's `travel_rule_country` ("NIL": none);
- the local-entity apply takes the capital apply's parameters plus `questionnaire` (JSON),
  books the withdrawal exactly as the capital apply does (same checks, same balance, same
  count per withdrawOrderId) and answers `{"trId", "accpted", "info"}` (sic);
- its history filters by trId, txId and withdrawOrderId (comma lists), network, coin and
  travelRuleStatus; a row's `withdrawalStatus` is the capital status, its
  `travelRuleStatus` 1 (pending) until processing, 0 (completed) or, for the configured
  `travel_rule_failing_addresses`, 2 (failed, the withdrawal rejected).
The questionnaire's fields are checked for Japan ("JP") only, the fields its table marks
required in every case; other entities need a non-empty JSON object.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from sandbox import errors, lifecycle, views, wallet
from sandbox.config import KeySettings, SandboxConfig
from sandbox.params import optional, optional_int
from sandbox.state import Session, WithdrawalRecord
from sandbox.wallet import MAX_LIMIT

_JAPAN_ALWAYS = ("isAddressOwner", "sendTo", "country", "city", "isAttested")
COMPLETED, PENDING, FAILED = 0, 1, 2


def requirements(config: SandboxConfig) -> dict[str, str]:
    return {"questionnaireCountryCode": config.account.travel_rule_country}


def check_questionnaire(text: str | None, country: str) -> str:
    if text is None or not text.strip():
        raise errors.questionnaire_blank()
    try:
        answers = json.loads(text)
    except ValueError:
        raise errors.questionnaire_invalid() from None
    if not isinstance(answers, dict) or not answers:
        raise errors.questionnaire_invalid()
    if country == "JP" and any(answers.get(name) in (None, "") for name in _JAPAN_ALWAYS):
        raise errors.questionnaire_invalid()
    return text


def apply(session: Session, config: SandboxConfig, key: KeySettings, params: Mapping[str, str],
          now_ms: int, received_at: float) -> dict[str, Any]:
    """POST /sapi/v1/localentity/withdraw/apply."""
    wallet.count_apply(session, params)
    country = config.account.travel_rule_country
    if country == "NIL":
        raise errors.travel_rule_not_required()
    questionnaire = check_questionnaire(optional(params, "questionnaire"), country)
    tr_id = session.data.next_tr_id
    wallet.book(session, config, key, params, now_ms, received_at, tr_id=tr_id, questionnaire=questionnaire)
    session.data.next_tr_id += 1
    return {"trId": tr_id, "accpted": True, "info": "Withdraw request accepted"}


def _comma_list(text: str | None) -> set[str] | None:
    return None if text is None else {item for item in text.split(",") if item}


def travel_rule_status(record: WithdrawalRecord, status: int) -> int:
    if record.travel_rule_failed and status == lifecycle.REJECTED:
        return FAILED
    return PENDING if status in (lifecycle.EMAIL_SENT, lifecycle.AWAITING_APPROVAL) else COMPLETED


def history_row(record: WithdrawalRecord, now_ms: int) -> dict[str, Any]:
    capital = views.withdrawal_history(record, now_ms)
    status = capital.pop("status")
    row = dict(capital, trId=record.tr_id, withdrawalStatus=status,
               travelRuleStatus=travel_rule_status(record, status), questionnaire=record.questionnaire or "")
    if record.travel_rule_failed and status == lifecycle.REJECTED:
        row["info"] = "Travel Rule check failed: the beneficiary could not be verified"
    return row


def history(session: Session, params: Mapping[str, str], now_ms: int) -> list[dict[str, Any]]:
    """GET /sapi/v1/localentity/withdraw/history: local-entity withdrawals only, newest first."""
    tr_ids, tx_ids = _comma_list(optional(params, "trId")), _comma_list(optional(params, "txId"))
    order_ids = _comma_list(optional(params, "withdrawOrderId"))
    coin, network = optional(params, "coin"), optional(params, "network")
    wanted_status = optional_int(params, "travelRuleStatus")
    offset = optional_int(params, "offset") or 0
    limit = optional_int(params, "limit") or MAX_LIMIT
    if limit > MAX_LIMIT:
        raise errors.invalid_parameter("limit")
    start, end = wallet.history_window(optional_int(params, "startTime"), optional_int(params, "endTime"),
                                       by_order_id=order_ids is not None, now_ms=now_ms)
    rows = []
    for record in sorted(session.data.withdrawals, key=lambda r: r.apply_ms, reverse=True):
        if record.tr_id is None or not start <= record.apply_ms <= end:
            continue
        row = history_row(record, now_ms)
        if ((tr_ids is not None and str(record.tr_id) not in tr_ids)
                or (tx_ids is not None and row["txId"] not in tx_ids)
                or (order_ids is not None and record.withdraw_order_id not in order_ids)
                or (coin is not None and record.coin != coin)
                or (network is not None and record.network != network)
                or (wanted_status is not None and row["travelRuleStatus"] != wanted_status)):
            continue
        rows.append(row)
    return rows[offset:offset + limit]

