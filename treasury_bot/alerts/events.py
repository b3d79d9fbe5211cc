"""One constructor per alert kind: the only way the treasury should build an `Alert`.

Each returns an `Alert` with its kind, default severity, intent id and the facts the
renderer knows, so callers cannot misspell a kind or a fact. Amounts may be given as
`Decimal` or string and are stored in their canonical spelling. An API key is taken raw
and stored only masked (`mask_key`): the full key never reaches the ledger or a mail.

Typical use, inside the ledger transaction that makes the change:

    t = events.Transfer(intent_id, client, "USDT", "TRX", Decimal("250"), "cold-wallet", address)
    ledger.enqueue(events.withdrawal_failed(t, at_ms=now, exchange_code=-4026,
                                            exchange_message="insufficient balance"))
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from common.logs import mask_key
from common.money import canonical
from treasury_bot import lifecycle
from treasury_bot.alerts import model
from treasury_bot.alerts.model import Alert, FactValue

_MAX_TEXT = 1000  # longer text (an exchange's error page, say) is cut: a mail, not a dump


@dataclass(frozen=True)
class Transfer:
    """The intent an alert is about, as the ledger knows it."""

    intent_id: str
    client: str | None
    coin: str
    network: str | None
    amount: Decimal | str
    destination: str
    address: str | None = None  # the whitelisted address; shortened in mails

    def facts(self) -> dict[str, FactValue]:
        return {
            "client": self.client,
            "coin": self.coin,
            "network": self.network,
            "amount": _amount(self.amount),
            "destination": self.destination,
            "address": self.address,
        }


def _amount(value: Decimal | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return canonical(value)
    return _text(str(value), 64)


def _text(value: object, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _make(kind: str, intent_id: str | None, facts: dict[str, FactValue], at_ms: int) -> Alert:
    return Alert(kind=kind, severity=model.severity_of(kind, facts), intent_id=intent_id,
                 facts=facts, created_at_ms=at_ms)


def _transfer_alert(kind: str, transfer: Transfer, at_ms: int, status: str,
                    **extra: FactValue) -> Alert:
    facts = transfer.facts()
    facts["status"] = status
    facts.update(extra)
    return _make(kind, transfer.intent_id, facts, at_ms)


# -- the process -------------------------------------------------------------------------

def start_summary(*, at_ms: int, version: str, api_key: str | None, policy_sha256: str,
                  destinations: int, open_withdrawals: int, pending_approvals: int,
                  mail: str, warnings: Sequence[str] = (),
                  pending_loosenings: Sequence[str] = (), chain_head: str | None = None) -> Alert:
    """The treasury started. `mail` says where alerts go ("smtp.example.com:587 starttls");
    `warnings` (e.g. "allow_unrestricted_ip is set") make it a WARNING. `pending_loosenings`:
    one line per loosening waiting for its quarantine, with the UTC time it takes effect
    (docs/design.md section 9), never cut short: the operator must see every one."""
    facts: dict[str, FactValue] = {
        "version": version,
        "api_key": mask_key(api_key),
        "policy_sha256": policy_sha256,
        "destinations": destinations,
        "open_withdrawals": open_withdrawals,
        "pending_approvals": pending_approvals,
        "mail": _text(mail),
        "warnings": _text("; ".join(warnings)) if warnings else None,
        "pending_loosenings": "; ".join(pending_loosenings) if pending_loosenings else None,
        # The journal's hash chain head as verified at this start ("seq:hash"): the mailbox
        # keeps it, so `treasuryctl verify --anchor` can prove later history was not rewritten.
        "chain_head": _text(chain_head, 100) if chain_head else None,
    }
    return _make(model.START_SUMMARY, None, facts, at_ms)


def key_audit_failed(*, at_ms: int, api_key: str | None, problem: str, detail: str = "") -> Alert:
    """The key self-audit refused the start. `problem` is a short stable phrase
    ("key can trade", "no IP restriction", "key cannot withdraw", "audit request failed")."""
    facts: dict[str, FactValue] = {
        "api_key": mask_key(api_key), "problem": _text(problem, 200), "detail": _text(detail),
    }
    return _make(model.KEY_AUDIT_FAILED, None, facts, at_ms)


def exchange_auth_error(*, at_ms: int, api_key: str | None, exchange_code: int | None,
                        exchange_message: str | None, intent_id: str | None = None,
                        action: str = "withdrawals stopped", cause: str | None = None,
                        problem: str | None = None, detail: str | None = None,
                        fix: str | None = None) -> Alert:
    """The exchange refused the key (-1022, -2014, -2015, -2008, -1002); `action` is what the
    treasury did; `cause` (stable), `problem` (a few words), `detail` (the cause in plain
    words) and `fix` (what to do) come from common/binance/key_refusal.py (issue 12)."""
    facts: dict[str, FactValue] = {
        "api_key": mask_key(api_key), "exchange_code": exchange_code,
        "exchange_message": _text(exchange_message, 300), "action": _text(action, 200),
    }
    if cause is not None:
        facts.update(cause=cause, problem=_text(problem or "", 200), detail=_text(detail or ""),
                     fix=_text(fix or ""))
    return _make(model.EXCHANGE_AUTH_ERROR, intent_id, facts, at_ms)


def policy_changed(*, at_ms: int, path: str, old_sha256: str | None, new_sha256: str,
                   pending_loosenings: Sequence[str] = ()) -> Alert:
    """The policy file's hash differs from the one journaled at the previous start;
    `pending_loosenings` as in start_summary."""
    facts: dict[str, FactValue] = {"path": _text(path, 500), "old_sha256": old_sha256,
                                   "new_sha256": new_sha256,
                                   "pending_loosenings": "; ".join(pending_loosenings) or None}
    return _make(model.POLICY_CHANGED, None, facts, at_ms)


def window_cap_80(*, at_ms: int, coin: str, used: Decimal | str, cap: Decimal | str,
                  destination: str | None = None, intent_id: str | None = None) -> Alert:
    """A window sum passed 80% of its cap: the coin's cap (destination None) or a
    destination's. `used` includes the intent that crossed the line (`intent_id`)."""
    facts: dict[str, FactValue] = {
        "coin": coin, "destination": destination,
        "scope": "destination" if destination else "coin",
        "used": _amount(used), "cap": _amount(cap), "percent": _percent(used, cap),
    }
    return _make(model.WINDOW_CAP_80, intent_id, facts, at_ms)


def _percent(used: Decimal | str, cap: Decimal | str) -> int | None:
    try:
        used_d, cap_d = Decimal(str(used)), Decimal(str(cap))
    except ArithmeticError:
        return None
    if not cap_d.is_finite() or not used_d.is_finite() or cap_d <= 0:
        return None
    return int(used_d * 100 // cap_d)


def mail_test(*, at_ms: int, detail: str = "") -> Alert:
    """A test alert (`treasuryctl alerts test`); not named `test...` so pytest never collects it."""
    return _make(model.TEST, None, {"detail": _text(detail)}, at_ms)


# -- intents -----------------------------------------------------------------------------

def intent_rejected(transfer: Transfer, *, at_ms: int, reason_code: str, detail: str = "",
                    reason: str | None = None) -> Alert:
    """A policy (or operator) rejection; status `denied`. `reason` is the client's own
    text from the intent, shown as such."""
    return _transfer_alert(model.INTENT_REJECTED, transfer, at_ms, lifecycle.DENIED,
                           reason_code=reason_code, detail=_text(detail), reason=_text(reason, 200))


def approval_needed(transfer: Transfer, *, at_ms: int, approval_above: Decimal | str | None,
                    reason: str | None = None) -> Alert:
    """An intent above `approval_above` waits as `pending_approval` for the operator."""
    return _transfer_alert(model.APPROVAL_NEEDED, transfer, at_ms, lifecycle.PENDING_APPROVAL,
                           reason_code="approval_required", approval_above=_amount(approval_above),
                           reason=_text(reason, 200))


# -- withdrawals -------------------------------------------------------------------------

def withdrawal_submitted(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None) -> Alert:
    """The exchange accepted the withdraw request and gave it an id."""
    return _transfer_alert(model.WITHDRAWAL_SUBMITTED, transfer, at_ms, lifecycle.SUBMITTED,
                           withdrawal_id=withdrawal_id)


def withdrawal_completed(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None,
                         tx_id: str | None, completed_at_ms: int | None = None,
                         fee: Decimal | str | None = None) -> Alert:
    """The exchange reports the withdrawal completed (status 6)."""
    return _transfer_alert(model.WITHDRAWAL_COMPLETED, transfer, at_ms, lifecycle.COMPLETED,
                           withdrawal_id=withdrawal_id, tx_id=tx_id,
                           completed_at_ms=completed_at_ms, fee=_amount(fee))


def withdrawal_failed(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None = None,
                      exchange_code: int | None = None, exchange_message: str | None = None,
                      detail: str = "") -> Alert:
    """The withdrawal failed: refused at apply (`exchange_code` such as -4026) or reported
    failed (exchange status 5). `detail` explains a failure that has no exchange code."""
    return _transfer_alert(model.WITHDRAWAL_FAILED, transfer, at_ms, lifecycle.FAILED,
                           withdrawal_id=withdrawal_id, exchange_code=exchange_code,
                           exchange_message=_text(exchange_message, 300), detail=_text(detail))


def withdrawal_rejected(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None,
                        detail: str = "") -> Alert:
    """The exchange rejected the withdrawal after accepting the request (status 3)."""
    return _transfer_alert(model.WITHDRAWAL_REJECTED, transfer, at_ms, lifecycle.REJECTED,
                           withdrawal_id=withdrawal_id, detail=_text(detail))


def withdrawal_cancelled(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None,
                         detail: str = "") -> Alert:
    """The withdrawal was cancelled (status 1)."""
    return _transfer_alert(model.WITHDRAWAL_CANCELLED, transfer, at_ms, lifecycle.CANCELLED,
                           withdrawal_id=withdrawal_id, detail=_text(detail))


def withdrawal_stuck(transfer: Transfer, *, at_ms: int, withdrawal_id: str | None, status: str,
                     submitted_at_ms: int | None, stuck_after_minutes: int) -> Alert:
    """A withdrawal open longer than `stuck_after_minutes` (alerted once per withdrawal);
    `status` is its current status (`processing`, `awaiting_approval`, ...)."""
    return _transfer_alert(model.WITHDRAWAL_STUCK, transfer, at_ms, status,
                           withdrawal_id=withdrawal_id, submitted_at_ms=submitted_at_ms,
                           stuck_after_minutes=stuck_after_minutes)


def needs_review(transfer: Transfer, *, at_ms: int, detail: str,
                 withdrawal_id: str | None = None) -> Alert:
    """The outcome of a withdrawal cannot be proven; a person must decide (`resolve`)."""
    return _transfer_alert(model.NEEDS_REVIEW, transfer, at_ms, lifecycle.NEEDS_REVIEW,
                           withdrawal_id=withdrawal_id, detail=_text(detail))


# -- clocks ------------------------------------------------------------------------------

def clock_disagreement(*, at_ms: int, offset_ms: int, host_ms: int, exchange_ms: int,
                       threshold_ms: int) -> Alert:
    """The host clock and the exchange clock are more than `threshold_ms` apart (docs/design.md
    section 9); `offset_ms` is exchange minus host. Raised once per episode."""
    facts: dict[str, FactValue] = {
        # Not named *_ms: the renderer shows those as moments, and these are durations.
        "exchange_minus_host": offset_ms, "host_time_ms": host_ms, "exchange_time_ms": exchange_ms,
        "threshold_seconds": threshold_ms // 1000,
    }
    return _make(model.CLOCK_DISAGREEMENT, None, facts, at_ms)
def withdrawal_stalled(transfer: Transfer, *, at_ms: int, queued_since_ms: int,
                       stuck_after_minutes: int, detail: str) -> Alert:
    """An accepted intent that could not be sent for `stuck_after_minutes` (issue 10,
    defect 3); `detail` says why: the last apply error, or the halt's reason."""
    return _transfer_alert(model.WITHDRAWAL_STALLED, transfer, at_ms, lifecycle.QUEUED,
                           queued_since_ms=queued_since_ms, stuck_after_minutes=stuck_after_minutes,
                           detail=_text(detail))
def client_rate_limited(*, at_ms: int, client: str, refused: int, max_requests_per_minute: int) -> Alert:
    """A digest of the transfer intents refused over the client's budget since its last one."""
    facts: dict[str, FactValue] = {"client": _text(client, 64), "refused": refused,
                                   "max_requests_per_minute": max_requests_per_minute}
    return _make(model.CLIENT_RATE_LIMITED, None, facts, at_ms)


def ledger_disk_low(*, at_ms: int, path: str, free_mb: int, min_free_disk_mb: int) -> Alert:
    """The ledger's filesystem has less free space than [limits] min_free_disk_mb."""
    facts: dict[str, FactValue] = {"path": _text(path, 500), "free_mb": free_mb,
                                   "min_free_disk_mb": min_free_disk_mb}
    return _make(model.LEDGER_DISK_LOW, None, facts, at_ms)


def thread_failing(*, at_ms: int, thread: str, error_type: str, failures: int = 1) -> Alert:
    """A background thread's iteration raised; only the exception's type, never its text
    (which may quote a request, a URL with a signature or a path)."""
    facts: dict[str, FactValue] = {"thread": _text(thread, 64), "error_type": _text(error_type, 100),
                                   "failures": failures}
    return _make(model.THREAD_FAILING, None, facts, at_ms)


def thread_recovered(*, at_ms: int, thread: str, failures: int) -> Alert:
    facts: dict[str, FactValue] = {"thread": _text(thread, 64), "failures": failures}
    return _make(model.THREAD_RECOVERED, None, facts, at_ms)


# Issue 12 item 4: the exchange's 24-hour withdrawal quota, in USD.
def withdraw_quota_80(*, at_ms: int, used: Decimal | str, total: Decimal | str) -> Alert:
    """The quota's use reached 80% (`used` and `total` in USD, as the exchange said)."""
    facts: dict[str, FactValue] = {"quota_used": _amount(used), "quota_total": _amount(total),
                                   "percent": _percent(used, total)}
    return _make(model.WITHDRAW_QUOTA_80, None, facts, at_ms)


def withdraw_quota_held(transfer: Transfer, *, at_ms: int, value_usd: Decimal | str,
                        remaining: Decimal | str, total: Decimal | str) -> Alert:
    """This intent waits: its USD value is above what is left of the quota."""
    return _transfer_alert(model.WITHDRAW_QUOTA_HELD, transfer, at_ms, lifecycle.QUEUED,
                           value_usd=_amount(value_usd), quota_left=_amount(remaining),
                           quota_total=_amount(total))


# Issue 12: a destination the exchange's own rules refuse (found at a coin-rules refresh).
def destination_refused(kind: str, *, at_ms: int, destination: str, coin: str, network: str,
                        address: str, detail: str) -> Alert:
    """`kind`: model.ADDRESS_BOOK_MISSING or model.DESTINATION_TAG_INVALID."""
    if kind not in (model.ADDRESS_BOOK_MISSING, model.DESTINATION_TAG_INVALID):
        raise model.AlertError(f"{kind!r} is not a destination alert")
    facts: dict[str, FactValue] = {"destination": _text(destination, 64), "coin": _text(coin, 20),
                                   "network": _text(network, 32), "address": _text(address, 200),
                                   "detail": _text(detail)}
    return _make(kind, None, facts, at_ms)


# Issue 13 (docs/design.md section 9): the custody controls.
def frozen(*, at_ms: int, frozen_by: str, reason: str) -> Alert:
    """An operator froze the treasury: every apply stops until `treasuryctl unfreeze`."""
    facts: dict[str, FactValue] = {"frozen_by": _text(frozen_by, 64), "reason": _text(reason)}
    return _make(model.FROZEN, None, facts, at_ms)


def unfrozen(*, at_ms: int, unfrozen_by: str, note: str, frozen_by: str, reason: str,
             frozen_at_ms: int) -> Alert:
    """The freeze was lifted; says by whom, and which freeze it ended."""
    facts: dict[str, FactValue] = {"unfrozen_by": _text(unfrozen_by, 200), "note": _text(note),
                                   "frozen_by": _text(frozen_by, 64), "reason": _text(reason),
                                   "frozen_at_ms": frozen_at_ms}
    return _make(model.UNFROZEN, None, facts, at_ms)


def loosening_released(*, at_ms: int, setting: str, change: str, released_by: str,
                       quarantine_ends_ms: int) -> Alert:
    """Issue 13 item 3: a quorum of operators released a pending loosening before its
    quarantine ended; `change` is loosening.describe's line (old -> new)."""
    facts: dict[str, FactValue] = {"setting": _text(setting, 200), "change": _text(change),
                                   "released_by": _text(released_by, 200), "quarantine_ends_ms": quarantine_ends_ms}
    return _make(model.LOOSENING_RELEASED, None, facts, at_ms)


def key_hygiene(*, at_ms: int, code: str, detail: str, rotate_after_days: int) -> Alert:
    """Issue 16 item 2: `code` is one of common.key_hygiene.CODES; the detail never holds the key."""
    facts: dict[str, FactValue] = {"problem": _text(code, 64), "detail": _text(detail),
                                   "rotate_after_days": rotate_after_days}
    return _make(model.KEY_HYGIENE, None, facts, at_ms)


def breaker_tripped(*, at_ms: int, breaker: str, detail: str, already_frozen: bool = False) -> Alert:
    """A circuit breaker froze the treasury; `detail` says what tripped it, with the numbers."""
    facts: dict[str, FactValue] = {"breaker": _text(breaker, 64), "detail": _text(detail),
                                   "already_frozen": "yes" if already_frozen else "no"}
    return _make(model.BREAKER_TRIPPED, None, facts, at_ms)


def foreign_withdrawal(*, at_ms: int, withdrawal_id: str | None, withdraw_order_id: str | None,
                       coin: str, network: str | None, amount: Decimal | str, address: str | None,
                       exchange_status: int | None, apply_time: str | None, detail: str) -> Alert:
    """A withdrawal on the account that the ledger did not make (or no longer knows of)."""
    facts: dict[str, FactValue] = {
        "withdrawal_id": _text(withdrawal_id, 100), "withdraw_order_id": _text(withdraw_order_id, 100),
        "coin": _text(coin, 20), "network": _text(network, 32), "amount": _amount(amount),
        "address": _text(address, 200), "exchange_status": exchange_status,
        "apply_time": _text(apply_time, 40), "detail": _text(detail)}
    return _make(model.FOREIGN_WITHDRAWAL, withdraw_order_id, facts, at_ms)


def journal_broken(*, at_ms: int, table: str | None, row: int | None, detail: str) -> Alert:
    """The journal's hash chain failed verification at this row (the first broken link)."""
    facts: dict[str, FactValue] = {"table": _text(table, 64), "row": row, "detail": _text(detail)}
    return _make(model.JOURNAL_BROKEN, None, facts, at_ms)


def daily_statement(*, at_ms: int, day: str, moved: str, open_intents: str, window_usage: str,
                    chain_head: str, extra: dict[str, FactValue] | None = None) -> Alert:
    """The day's statement: what moved, what is open, window usage, and the journal's chain
    head (the operator's mailbox anchors history outside the host). Texts are one line each."""
    facts: dict[str, FactValue] = {"day": _text(day, 20), "moved": _text(moved),
                                   "open_intents": _text(open_intents), "window_usage": _text(window_usage),
                                   "chain_head": _text(chain_head, 100), **(extra or {})}
    return _make(model.DAILY_STATEMENT, None, facts, at_ms)


def would_withdraw(transfer: Transfer, *, at_ms: int, status: str) -> Alert:
    """Shadow mode: live mode would have sent this apply now; nothing was sent. `status`: the
    intent's status after it (shadow mode's own end, treasury_bot/lifecycle.py)."""
    return _transfer_alert(model.WOULD_WITHDRAW, transfer, at_ms, status, mode="shadow")


def reload_refused(*, at_ms: int, part: str, detail: str) -> Alert:
    """Issue 16 item 1: a reload kept the running `part` (clients, policy, exchange_key)."""
    facts: dict[str, FactValue] = {"part": _text(part, 50), "detail": _text(detail)}
    return _make(model.RELOAD_REFUSED, None, facts, at_ms)
