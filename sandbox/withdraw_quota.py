"""The account's 24-hour withdrawal quota (issue 12 item 4).

- `GET /sapi/v1/capital/withdraw/quota` (IP weight 10, no parameters) answers
  `{"wdQuota": "...", "usedWdQuota": "..."}` in USD, as Binance documents it
  (https://developers.binance.com/docs/wallet/capital/fetch-withdraw-quota).
- `wdQuota` is the config's `[exchange] withdraw_quota_usdt`.
- `usedWdQuota` is the sum, over the withdrawals applied in the last 24 hours (every
  accepted apply, whatever became of it), of their amounts valued in USDT: USDT, USDC and
  FDUSD count 1:1; another coin at the sandbox's own price of `<COIN>USDT` (the configured
  `price`, or the one `POST /sandbox/prices` set); a coin with no such symbol counts 0
  (the sandbox has no other price to value it with).
- An apply whose value would take `usedWdQuota` above `wdQuota` answers -4023 ("Within
  24 hours, the withdrawal exceeds the maximum amount."). Binance documents no code for
  a refusal by this quota; -4023 is the code of its error list whose words say it, and
  choosing it here is OUR choice (sandbox/README.md says so too).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox import errors
from sandbox.config import SandboxConfig
from sandbox.state import Session

DAY_MS = 86_400_000
ZERO = Decimal(0)
USD_STABLECOINS = frozenset({"USDT", "USDC", "FDUSD"})


def value_in_usdt(config: SandboxConfig, session: Session, coin: str, amount: Decimal) -> Decimal:
    """`amount` of `coin` in USDT, at the sandbox's own price (0 when it has none)."""
    if coin in USD_STABLECOINS:
        return amount
    symbol = config.find_symbol(f"{coin}USDT")
    if symbol is None:
        return ZERO
    return amount * session.data.prices.get(symbol.symbol, symbol.price)


def used(config: SandboxConfig, session: Session, now_ms: int) -> Decimal:
    """What the withdrawals applied in the last 24 hours used of the quota, in USDT."""
    since = now_ms - DAY_MS
    return sum((value_in_usdt(config, session, r.coin, r.amount)
                for r in session.data.withdrawals if r.apply_ms > since), ZERO)


def view(config: SandboxConfig, session: Session, now_ms: int) -> dict[str, Any]:
    """The reply of GET /sapi/v1/capital/withdraw/quota."""
    return {"wdQuota": _plain(config.exchange.withdraw_quota_usdt),
            "usedWdQuota": _plain(used(config, session, now_ms))}


def check_apply(config: SandboxConfig, session: Session, coin: str, amount: Decimal, now_ms: int) -> None:
    """Raise -4023 when this apply would take the 24-hour use above the quota."""
    if used(config, session, now_ms) + value_in_usdt(config, session, coin, amount) \
            > config.exchange.withdraw_quota_usdt:
        raise errors.quota_exceeded()


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
