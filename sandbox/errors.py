"""Binance's error replies: `{"code": -1022, "msg": "..."}` with the HTTP status Binance uses.

Codes and messages are Binance's documented ones (spot `errors.md`, the wallet error
list). Every refusal in the sandbox is an `ApiError`, raised by pure code and turned into
a reply by the HTTP layer.
"""

from __future__ import annotations


class ApiError(Exception):
    """One Binance error reply: its code, its message and the HTTP status it travels with."""

    def __init__(self, code: int, msg: str, http_status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {"code": self.code, "msg": self.msg}


# 10xx: server, network, timing and signature.
def too_many_requests(msg: str, status: int = 429, retry_after: int = 60) -> ApiError:
    return ApiError(-1003, msg, status, {"Retry-After": str(retry_after)})


def timestamp_outside_window() -> ApiError:
    return ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def timestamp_ahead() -> ApiError:
    return ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")


def bad_signature() -> ApiError:
    return ApiError(-1022, "Signature for this request is not valid.")


# 11xx: the request's parameters.
def illegal_chars(name: str, legal: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def duplicate_parameter() -> ApiError:
    return ApiError(-1101, "Duplicate values for a parameter detected.")


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def one_of_mandatory(first: str, second: str) -> ApiError:
    return ApiError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def unread_parameters(read: int, sent: int) -> ApiError:
    return ApiError(-1104, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.")


def not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def invalid_tif() -> ApiError:
    return ApiError(-1115, "Invalid timeInForce.")


def invalid_order_type() -> ApiError:
    return ApiError(-1116, "Invalid orderType.")


def invalid_side() -> ApiError:
    return ApiError(-1117, "Invalid side.")


def bad_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def invalid_parameter(name: str) -> ApiError:
    return ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")


def bad_recv_window() -> ApiError:
    return ApiError(-1131, "recvWindow must be less than 60000")


# -1013: filter failures and invalid values rejected before the matching engine.
def filter_failure(filter_type: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {filter_type}")


# 20xx: the matching engine and the API key.
def order_rejected(msg: str) -> ApiError:
    return ApiError(-2010, msg)


def insufficient_balance() -> ApiError:
    return order_rejected("Account has insufficient balance for requested action.")


def duplicate_order() -> ApiError:
    return order_rejected("Duplicate order sent.")


def no_such_order() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def unknown_order_to_cancel() -> ApiError:
    """DELETE /api/v3/order for an order that does not exist or is no longer open."""
    return ApiError(-2011, "Unknown order sent.")


def bad_api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", 401)


def rejected_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


# 40xx: the wallet (withdrawals).
def withdraw_limited() -> ApiError:
    return ApiError(-4015, "Withdraw is limited.")


def tag_invalid() -> ApiError:
    return ApiError(-4008, "Address tag validation is not passed.")


def asset_unknown() -> ApiError:
    return ApiError(-4018, "We don't have this asset.")


def withdraw_disabled() -> ApiError:
    return ApiError(-4019, "Current asset is not open for withdrawal.")


def not_a_multiple(multiple: str) -> ApiError:
    return ApiError(-4021, f"Asset withdrawal must be an integral multiple of {multiple}.")


def below_minimum(minimum: str) -> ApiError:
    return ApiError(-4022, f"Not less than the minimum pick-up quantity {minimum}.")


def above_maximum() -> ApiError:
    return ApiError(-4023, "Within 24 hours, the withdrawal exceeds the maximum amount.")


def quota_exceeded() -> ApiError:
    """The 24-hour withdrawal quota would be exceeded (issue 12 item 4). Binance documents no
    code for it; -4023 with its documented words is OUR choice (sandbox/withdraw_quota.py)."""
    return ApiError(-4023, "Within 24 hours, the withdrawal exceeds the maximum amount.")


# Travel Rule (issue 12 item 5). Binance documents the two questionnaire messages
# ("Questionnaire must not be blank", "Questionnaire format not valid.") but no codes, and
# no error for using the wrong apply endpoint: -1102/-1130 are Binance's generic codes for
# a missing / invalid parameter; -4190 is our choice.
TRAVEL_RULE_ENDPOINT_CODE = -4190


def travel_rule_required() -> ApiError:
    return ApiError(TRAVEL_RULE_ENDPOINT_CODE, "This account is under the Travel Rule: withdraw through "
                    "/sapi/v1/localentity/withdraw/apply with a questionnaire.")


def travel_rule_not_required() -> ApiError:
    return ApiError(TRAVEL_RULE_ENDPOINT_CODE, "The Travel Rule questionnaire is not required for this "
                    "account: withdraw through /sapi/v1/capital/withdraw/apply.")


def questionnaire_blank() -> ApiError:
    return ApiError(-1102, "Questionnaire must not be blank")


def questionnaire_invalid() -> ApiError:
    return ApiError(-1130, "Questionnaire format not valid.")


def withdraw_insufficient() -> ApiError:
    return ApiError(-4026, "You have insufficient balance.")


def not_above_fee() -> ApiError:
    return ApiError(-4028, "The amount of withdrawal must be greater than the Commission.")


def illegal_address() -> ApiError:
    return ApiError(-4033, "Illegal address.")


def tag_not_taken() -> ApiError:
    """-4106: an addressTag on a network that takes none (issue 12). The code is Binance's;
    the wallet error pages we could read give no text for it, so the wording is ours."""
    return ApiError(-4106, "This network does not support a memo (addressTag); remove it and try again.")


def not_whitelisted() -> ApiError:
    return ApiError(-4035, "This address is not on the whitelist. Please join and try again.")


def time_interval(days: int) -> ApiError:
    return ApiError(-4047, f"Time interval must be within 0-{days} days")


def server_overloaded() -> ApiError:
    """-1008, as Binance sends it when busy; it does not say whether the request ran."""
    return ApiError(-1008, "Server is currently overloaded with other requests. Please try again in a few minutes.")
