"""API keys as configured, with the changes the admin API made to them since (persisted).

Only permission-like fields and the key's type can change at run time (not the key or its
HMAC secret; an Ed25519 public key may replace the secret), e.g.
revoking `can_withdraw` mid-run so the next apply answers -2015, deleting the key
(`deleted`) or letting it expire (`expires_at`), or an IP allow-list (`ip_restrict` +
`allowed_ips`) that leaves the caller out.
"""

from __future__ import annotations

from typing import Any, Mapping

import msgspec
from msgspec import Struct

from sandbox.config import KeySettings, SandboxConfig


class KeyChange(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of POST /sandbox/keys[/{name}]: which key (by `name` or `api_key`), what changes."""
    name: str | None = None
    api_key: str | None = None
    can_trade: bool | None = None
    can_withdraw: bool | None = None
    enable_reading: bool | None = None
    ip_restrict: bool | None = None
    allowed_ips: list[str] | None = None
    whitelist_enabled: bool | None = None
    whitelist: list[str] | None = None
    enable_internal_transfer: bool | None = None
    permits_universal_transfer: bool | None = None
    enable_margin: bool | None = None
    enable_futures: bool | None = None
    enable_vanilla_options: bool | None = None
    enable_portfolio_margin_trading: bool | None = None
    deleted: bool | None = None      # true: the key is deleted (every signed call: -2015)
    expires_at: int | None = None    # server ms from which the key is gone
    # Issue 16 item 2: what apiRestrictions reports as createTime and
    # tradingAuthorityExpirationTime (server ms), so a test can age a key.
    create_time: int | None = None
    trading_authority_expiration_time: int | None = None
    # PEM: the key becomes a self-generated Ed25519 key (its HMAC secret stops working), as
    # if the user had pasted this public key into Binance's API Management.
    ed25519_public_key: str | None = None

    def changes(self) -> dict[str, Any]:
        fields = msgspec.structs.asdict(self)
        changed = {k: v for k, v in fields.items() if v is not None and k not in ("name", "api_key")}
        if self.ed25519_public_key is not None:
            from sandbox.ed25519_verify import public_key
            public_key(self.ed25519_public_key)  # ValueError: the admin API answers 400
            changed["api_secret"] = ""
        return changed


def effective(key: KeySettings, overrides: Mapping[str, Mapping[str, Any]]) -> KeySettings:
    change = overrides.get(key.name)
    if not change:
        return key
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in change.items()}
    return msgspec.structs.replace(key, **values)


def find_effective(config: SandboxConfig, overrides: Mapping[str, Mapping[str, Any]],
                   api_key: str) -> KeySettings | None:
    key = config.find_key(api_key)
    return None if key is None else effective(key, overrides)


def public_view(key: KeySettings) -> dict[str, Any]:
    """A key as the admin API shows it: everything but the secret."""
    fields = msgspec.structs.asdict(key)
    fields.pop("api_secret")
    fields["key_type"] = key.key_type
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
