"""Why Binance refused an API key, in plain words, and what to do about it. Pure.

Binance's codes (https://developers.binance.com/docs/wallet/error-code):
- -1022 "Signature for this request is not valid.": the secret is not the key's;
- -2014 "API-key format invalid.": the key text is not a key;
- -2008 "Invalid Api-Key ID.": no such key (deleted, or never created);
- -2015 "Invalid API-key, IP, or permissions for action.": ONE code for three causes: the
  key was deleted or expired, the caller's IP is not on the key's allow-list, or the key
  lacks the permission the call needs; -1002 "You are not authorized to execute this
  request." does not say which permission either.

For -2015 and -1002 a cheap follow-up read tells the causes apart, as far as they can be:
GET /sapi/v1/account/apiRestrictions (weight 1,
https://developers.binance.com/docs/wallet/account/api-key-permission) is itself a signed
call under the same key and IP rules, so
- it answers: the key exists and this host's IP is allowed; its `enableWithdrawals` says
  whether the key may withdraw (and Binance enables withdrawals only on an IP-restricted
  key: `ipRestrict` false means the withdraw right cannot work);
- it is refused too: the key is gone (deleted or expired) OR this IP is not allowed.
  Binance's answer is the same for both, so both are named.
Some of Binance's -2015 messages add ", request ip: A.B.C.D" (not documented); when one
does, the address is quoted so the operator can compare it with the key's allow-list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.binance.errors import (CAUSE_KEY_FORMAT_INVALID, CAUSE_KEY_INVALID_OR_DELETED,
                                   CAUSE_KEY_REFUSED, CAUSE_SIGNATURE_REJECTED, AuthError,
                                   ExchangeError)
from common.binance.models import ApiRestrictions

# Causes only a follow-up read can name (the codes' own causes are in errors.py).
CAUSE_KEY_LACKS_WITHDRAW_PERMISSION = "key_lacks_withdraw_permission"
CAUSE_KEY_DELETED_OR_IP_NOT_ALLOWED = "key_deleted_or_ip_not_allowed"
CAUSE_KEY_NOT_IP_RESTRICTED = "withdrawals_need_ip_restriction"

_REQUEST_IP = re.compile(r"request ip:\s*([0-9A-Fa-f.:]{3,45})")
_API_MANAGEMENT = "Binance's API Management page (Account > API Management)"


@dataclass(frozen=True)
class KeyDiagnosis:
    """`cause`: stable (errors.CAUSE_* or this module's); `headline`: a few words for a
    subject line; `what`: the cause in plain words; `fix`: what the operator should do."""

    cause: str
    headline: str
    what: str
    fix: str


def diagnose_apply(error: AuthError, follow_up: ApiRestrictions | ExchangeError | None,
                   key_env: str = "TREASURY_API_KEY") -> KeyDiagnosis:
    """Why a withdraw apply was refused with `error`; `follow_up`: what apiRestrictions
    answered right after (its reply, its error, or None when it could not be asked)."""
    if error.cause != CAUSE_KEY_REFUSED:
        return _by_code(error, key_env)
    if isinstance(follow_up, ApiRestrictions):
        if not follow_up.enable_withdrawals:
            return KeyDiagnosis(
                CAUSE_KEY_LACKS_WITHDRAW_PERMISSION, "API key has no withdraw permission",
                "the API key has no withdraw permission (apiRestrictions: enableWithdrawals is false); "
                "the key itself exists and this host's IP is allowed",
                f"in {_API_MANAGEMENT}, edit this key and tick Enable Withdrawals (Binance allows it "
                "only with an IP restriction), then restart the treasury")
        if not follow_up.ip_restrict:
            return KeyDiagnosis(
                CAUSE_KEY_NOT_IP_RESTRICTED, "withdrawals need an IP-restricted key",
                "the API key is not IP-restricted (ipRestrict is false), and Binance lets a key "
                "withdraw only when it is",
                f"in {_API_MANAGEMENT}, restrict this key to this host's public IP address, then "
                "restart the treasury")
        return KeyDiagnosis(
            CAUSE_KEY_REFUSED, "API key refused for withdrawals",
            f"Binance refused the key for the withdrawal ({_code(error)}) although apiRestrictions "
            "says it exists, this IP is allowed and withdrawals are enabled; the permission may "
            "have been changed in the meantime",
            f"check the key's permissions and IP list in {_API_MANAGEMENT}; if they are right, "
            f"create a new key, put it in {key_env} and its secret in {_secret_env(key_env)}, then "
            "restart the treasury")
    if isinstance(follow_up, AuthError):
        if follow_up.cause == CAUSE_KEY_INVALID_OR_DELETED:
            return _by_code(follow_up, key_env)
        if follow_up.cause == CAUSE_KEY_REFUSED:
            return gone_or_ip(error, key_env)
    return KeyDiagnosis(
        CAUSE_KEY_REFUSED, "API key refused",
        f"Binance refused the key ({_code(error)}): the key was deleted or expired, this host's "
        "IP is not on its allow-list, or it lacks withdraw permission (the follow-up check of "
        "apiRestrictions could not be read)" + _seen_ip(error),
        f"in {_API_MANAGEMENT}, check that the key exists, that this host's public IP is in its "
        "allow-list and that Enable Withdrawals is ticked; then restart the treasury")


def diagnose_read(error: AuthError, key_env: str = "TREASURY_API_KEY") -> KeyDiagnosis:
    """Why a signed READ (apiRestrictions, account) was refused: a read needs no extra
    permission, so -2015 there means the key is gone or this IP is not allowed."""
    if error.cause != CAUSE_KEY_REFUSED:
        return _by_code(error, key_env)
    return gone_or_ip(error, key_env)


def gone_or_ip(error: AuthError, key_env: str) -> KeyDiagnosis:
    return KeyDiagnosis(
        CAUSE_KEY_DELETED_OR_IP_NOT_ALLOWED, "API key deleted/expired or IP not allowed",
        f"Binance refuses the key for every call ({_code(error)}, its one code for both): either "
        "the key was deleted or expired (Binance removes keys without an IP restriction after "
        "a period of inactivity), or this host's IP address is not on the key's IP allow-list"
        + _seen_ip(error),
        f"in {_API_MANAGEMENT}, check that the key still exists and that this host's public IP "
        f"is in its allow-list; add the IP, or create a new IP-restricted key and put it in "
        f"{key_env} and its secret in {_secret_env(key_env)}; then restart")


def _by_code(error: AuthError, key_env: str) -> KeyDiagnosis:
    secret_env = _secret_env(key_env)
    if error.cause == CAUSE_SIGNATURE_REJECTED:
        return KeyDiagnosis(
            CAUSE_SIGNATURE_REJECTED, "signature rejected",
            "Binance rejected the request's signature (-1022): the API secret (or, for an Ed25519 "
            "key, the private key file) is not this key's (or the host's signing is broken)",
            f"put the key's own secret in {secret_env} (copy it again from where you saved it at "
            "creation; Binance shows it only once, else create a new key); for an Ed25519 key, "
            f"point {_private_key_env(key_env)} at the private half of the public key registered "
            "for this API key; then restart")
    if error.cause == CAUSE_KEY_FORMAT_INVALID:
        return KeyDiagnosis(
            CAUSE_KEY_FORMAT_INVALID, "API key format invalid",
            f"the API key in {key_env} is not shaped like a Binance key (-2014)",
            f"copy the key again into {key_env}, without quotes or spaces, then restart")
    if error.cause == CAUSE_KEY_INVALID_OR_DELETED:
        return KeyDiagnosis(
            CAUSE_KEY_INVALID_OR_DELETED, "API key does not exist",
            f"Binance knows no such API key ({_code(error)}): it was deleted, or expired, or "
            f"{key_env} holds a mistyped key",
            f"create a new IP-restricted key in {_API_MANAGEMENT}, put it in {key_env} and its "
            f"secret in {secret_env}, then restart")
    return gone_or_ip(error, key_env)


def _secret_env(key_env: str) -> str:
    return key_env.removesuffix("_KEY") + "_SECRET"


def _private_key_env(key_env: str) -> str:
    return key_env.removesuffix("_API_KEY") + "_PRIVATE_KEY_FILE"


def _code(error: AuthError) -> str:
    return error.cited_code


def _seen_ip(error: AuthError) -> str:
    found = _REQUEST_IP.search(error.message or "")
    return f"; Binance saw the request come from {found.group(1)}" if found else ""
