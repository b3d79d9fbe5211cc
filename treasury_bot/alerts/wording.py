"""What each alert kind says: its one-line summary, its plural in a digest, what it means,
and the labels of its facts, in the order a person reads them.

One table per question, keyed by kind (`model.KINDS`); a new kind adds one entry to
each. `render.py` assembles these into subjects and bodies.
"""

from __future__ import annotations

from typing import Callable, Mapping

from treasury_bot.alerts import model
from treasury_bot.alerts.formats import amount, exchange_error, one_line, short_address, transfer
from treasury_bot.alerts.model import Alert, FactValue

SUBJECT_MAX = 200

# -- one-line summaries (the subject of a mail holding one alert) ------------------------


def _s_start(f: Mapping[str, FactValue]) -> str:
    text = (f"treasury started: {f.get('destinations')} destinations, "
            f"{f.get('open_withdrawals')} open withdrawals, key {f.get('api_key')}")
    return text + (" (with warnings)" if f.get("warnings") else "")


def _s_failed(f: Mapping[str, FactValue]) -> str:
    why = exchange_error(f)
    return f"withdrawal failed: {transfer(f)}" + (f" ({why})" if why else "")


def _s_stuck(f: Mapping[str, FactValue]) -> str:
    return (f"withdrawal stuck: {transfer(f)} ({f.get('status')} for over "
            f"{f.get('stuck_after_minutes')} min)")


def _s_window(f: Mapping[str, FactValue]) -> str:
    where = f"destination {f.get('destination')}" if f.get("destination") else f"coin {f.get('coin')}"
    return (f"window cap over 80%: {amount(f, 'used')} of {amount(f, 'cap')} "
            f"({f.get('percent')}%) for {where}")


def _s_policy(f: Mapping[str, FactValue]) -> str:
    old = str(f.get("old_sha256") or "none")[:12]
    return f"policy file changed: sha256 {old} -> {str(f.get('new_sha256'))[:12]}"


def _s_completed(f: Mapping[str, FactValue]) -> str:
    tx = f.get("tx_id")
    return f"withdrawal completed: {transfer(f)}" + (f" (tx {short_address(str(tx))})" if tx else "")


def _s_clock(f: Mapping[str, FactValue]) -> str:
    offset = f.get("exchange_minus_host")
    if not isinstance(offset, int):
        return "host clock and exchange clock disagree"
    seconds = (abs(offset) + 500) // 1000  # to the nearest second: a measurement is off by ms
    hours, rest = divmod(seconds, 3600)
    span = f"{hours} h {rest // 60} min" if hours else (f"{rest // 60} min {rest % 60} s" if rest >= 60 else f"{rest} s")
    side = "behind" if offset > 0 else "ahead of"
    return f"host clock {span} {side} the exchange's clock (more than {f.get('threshold_seconds')} s apart)"


SUMMARY: Mapping[str, Callable[[Mapping[str, FactValue]], str]] = {
    model.START_SUMMARY: _s_start,
    model.KEY_AUDIT_FAILED: lambda f: f"key self-audit failed: {f.get('problem')} (key {f.get('api_key')})",
    model.INTENT_REJECTED: lambda f: f"intent rejected: {transfer(f)} ({f.get('reason_code')})",
    model.APPROVAL_NEEDED: lambda f: f"approval needed: {transfer(f)} (above {amount(f, 'approval_above')})",
    model.WITHDRAWAL_SUBMITTED: lambda f: (
        f"withdrawal submitted: {transfer(f)} (exchange id {f.get('withdrawal_id') or '?'})"),
    model.WITHDRAWAL_COMPLETED: _s_completed,
    model.WITHDRAWAL_FAILED: _s_failed,
    model.WITHDRAWAL_REJECTED: lambda f: f"withdrawal rejected by the exchange: {transfer(f)}",
    model.WITHDRAWAL_CANCELLED: lambda f: f"withdrawal cancelled: {transfer(f)}",
    model.WITHDRAWAL_STUCK: _s_stuck,
    model.NEEDS_REVIEW: lambda f: f"needs review: {transfer(f)} (outcome unknown, status needs_review)",
    model.EXCHANGE_AUTH_ERROR: lambda f: (
        f"exchange auth error: {f.get('exchange_code')} {f.get('problem')} "
        f"({f.get('action') or 'withdrawals stopped'})" if f.get("problem") and isinstance(
            f.get("exchange_code"), int) else
        f"exchange auth error: {exchange_error(f)} ({f.get('action') or 'withdrawals stopped'})"),
    model.WINDOW_CAP_80: _s_window,
    model.POLICY_CHANGED: _s_policy,
    model.TEST: lambda f: "test mail from the treasury",
    model.CLOCK_DISAGREEMENT: _s_clock,
    model.WITHDRAWAL_STALLED: lambda f: (
        f"withdrawal not sent: {transfer(f)} (queued for over {f.get('stuck_after_minutes')} min: "
        f"{f.get('detail')})"),
    model.CLIENT_RATE_LIMITED: lambda f: (
        f"client {f.get('client')} over its request budget: {f.get('refused')} intents refused "
        f"(max {f.get('max_requests_per_minute')}/min)"),
    model.LEDGER_DISK_LOW: lambda f: (
        f"ledger disk low: {f.get('free_mb')} MB free (min {f.get('min_free_disk_mb')} MB); "
        "new intents refused"),
    model.THREAD_FAILING: lambda f: f"thread {f.get('thread')} failing: {f.get('error_type')}",
    model.THREAD_RECOVERED: lambda f: (
        f"thread {f.get('thread')} recovered after {f.get('failures')} failures"),
    model.ADDRESS_BOOK_MISSING: lambda f: (
        f"destination {f.get('destination')} not in the exchange's address book: its intents are refused"),
    model.DESTINATION_TAG_INVALID: lambda f: (
        f"destination {f.get('destination')}: its tag does not suit {f.get('coin')} on {f.get('network')}: "
        "its intents are refused"),
    model.WITHDRAW_QUOTA_80: lambda f: (
        f"exchange withdrawal quota {f.get('percent')}% used: {f.get('quota_used')} of {f.get('quota_total')} USD in 24 h"),
    model.WITHDRAW_QUOTA_HELD: lambda f: (
        f"{f.get('amount')} {f.get('coin')} to {f.get('destination')} waits: over the exchange's "
        f"24-hour quota ({f.get('quota_left')} USD left)"),
}


# How a digest counts its alerts: "200 rejected intents".
PLURAL: Mapping[str, str] = {
    model.START_SUMMARY: "treasury starts",
    model.KEY_AUDIT_FAILED: "key self-audit failures",
    model.INTENT_REJECTED: "rejected intents",
    model.APPROVAL_NEEDED: "intents waiting for approval",
    model.WITHDRAWAL_SUBMITTED: "withdrawals submitted",
    model.WITHDRAWAL_COMPLETED: "withdrawals completed",
    model.WITHDRAWAL_FAILED: "withdrawals failed",
    model.WITHDRAWAL_REJECTED: "withdrawals rejected by the exchange",
    model.WITHDRAWAL_CANCELLED: "withdrawals cancelled",
    model.WITHDRAWAL_STUCK: "stuck withdrawals",
    model.NEEDS_REVIEW: "withdrawals needing review",
    model.EXCHANGE_AUTH_ERROR: "exchange auth errors",
    model.WINDOW_CAP_80: "window cap warnings",
    model.POLICY_CHANGED: "policy file changes",
    model.TEST: "test alerts",
    model.CLOCK_DISAGREEMENT: "clock disagreements",
    model.WITHDRAWAL_STALLED: "withdrawals that could not be sent",
    model.CLIENT_RATE_LIMITED: "client budget refusals digests",
    model.LEDGER_DISK_LOW: "ledger disk low alerts",
    model.THREAD_FAILING: "failing threads",
    model.THREAD_RECOVERED: "recovered threads",
    model.ADDRESS_BOOK_MISSING: "destinations missing from the address book",
    model.DESTINATION_TAG_INVALID: "destinations with a tag the exchange refuses",
    model.WITHDRAW_QUOTA_80: "withdrawal quota warnings",
    model.WITHDRAW_QUOTA_HELD: "intents waiting for the withdrawal quota",
}


# The fact a digest breaks its alerts down by, in the subject and body.
DIGEST_BY: Mapping[str, str] = {
    model.INTENT_REJECTED: "reason_code",
    model.WITHDRAWAL_STUCK: "status",
    model.WINDOW_CAP_80: "coin",
}


def summary(alert: Alert) -> str:
    """What happened, in one line: the subject without its `[treasury][SEVERITY]` prefix."""
    return one_line(SUMMARY[alert.kind](alert.facts), SUBJECT_MAX)


# -- bodies: what it means, and the facts' labels ----------------------------------------

WHAT_IT_MEANS: Mapping[str, str] = {
    model.START_SUMMARY: "The treasury bot started and passed its checks.",
    model.KEY_AUDIT_FAILED: ("The treasury's API key failed its self-audit. The treasury does not "
                             "withdraw with a key that fails it: fix the key's permissions or IP "
                             "restriction on the exchange (or the policy override), then restart."),
    model.INTENT_REJECTED: "A transfer intent was rejected; nothing was withdrawn for it.",
    model.APPROVAL_NEEDED: ("A transfer intent is above the approval threshold. It waits for you "
                            "and nothing is withdrawn until you approve it. Approving re-checks "
                            "the limits at that moment."),
    model.WITHDRAWAL_SUBMITTED: "The exchange accepted the withdrawal request; the treasury now polls its status.",
    model.WITHDRAWAL_COMPLETED: "The exchange reports the withdrawal completed.",
    model.WITHDRAWAL_FAILED: ("The withdrawal failed and will not be retried. The exchange's "
                              "code and message are below."),
    model.WITHDRAWAL_REJECTED: ("The exchange rejected the withdrawal after accepting the request. "
                                "It will not be retried."),
    model.WITHDRAWAL_CANCELLED: "The withdrawal was cancelled at the exchange. It will not be retried.",
    model.WITHDRAWAL_STUCK: ("This withdrawal has been open longer than stuck_after_minutes. "
                             "The treasury keeps polling it; this alert is sent once."),
    model.NEEDS_REVIEW: ("The treasury cannot prove whether this withdrawal happened, so it will "
                         "neither retry it nor give up on it by itself. Look it up in the "
                         "exchange's withdraw history (withdrawOrderId = the intent id), then "
                         "tell the treasury what happened with `treasuryctl resolve`."),
    model.EXCHANGE_AUTH_ERROR: ("The exchange refused the treasury's API key (signature, key "
                                "format, IP or permission). Withdrawals are stopped until the "
                                "key works again. The refused withdrawal was not made (Binance "
                                "refuses a key before acting) and is not retried: it waits in "
                                "`queued`. The cause and what to do are below; `treasuryctl "
                                "check` says the same. Restart the treasury once the key is fixed."),
    model.WINDOW_CAP_80: ("Transfers in the rolling window passed 80% of a cap. Once the cap is "
                          "reached, intents are rejected with over_window_limit."),
    model.POLICY_CHANGED: ("The policy file differs from the one the treasury ran with before. "
                           "If you did not change it, stop the treasury and find out who did."),
    model.TEST: "A test mail (`treasuryctl alerts test`). If you can read it, alerts reach you.",
    model.CLOCK_DISAGREEMENT: ("This host's clock and the exchange's clock are more than a minute "
                               "apart. The treasury decides, stamps and expires on the exchange's "
                               "clock, so intents are still decided on time and no window reopens; "
                               "but treasuryctl, the logs and other programs on this host use the "
                               "host clock. Fix the host's time (NTP). A log line "
                               "(clock_back_in_line) says when the clocks agree again."),
    model.WITHDRAWAL_STALLED: (
        "This accepted withdrawal could not be sent to the exchange for longer than "
        "stuck_after_minutes; nothing was withdrawn for it yet. The treasury keeps trying; the "
        "reason below is the last one it met (an exchange error, or withdrawals halted). "
        "`treasuryctl status` lists every such intent. This alert is sent once per intent."),
    model.CLIENT_RATE_LIMITED: (
        "A client sent more transfer intents than its [limits.clients.NAME] "
        "max_requests_per_minute. The excess was refused (client_rate_limited) and not "
        "journaled one by one; this alert counts them, at most once a minute per client."),
    model.LEDGER_DISK_LOW: (
        "The ledger's filesystem is nearly full. New intents get error/internal so that "
        "clients retry them later; withdrawals in flight are still followed. Free space "
        "on the ledger's filesystem; intents are accepted again once it is above the minimum."),
    model.THREAD_FAILING: (
        "A background thread (executor, poller, coin rules or alert sender) keeps failing. "
        "It retries with backoff; see the treasury's log for the traceback. This alert is "
        "sent once per failure episode."),
    model.THREAD_RECOVERED: "The background thread that was failing works again.",
    model.ADDRESS_BOOK_MISSING: (
        "A whitelisted destination is not in the exchange account's own withdrawal address book "
        "(same coin, network, address and tag, on the whitelist). Every intent to it is refused "
        "(not_in_address_book) before any withdrawal is sent, and queued ones fail: the exchange "
        "would refuse them (-4035). Add the address to the address book on Binance (or remove "
        "the destination from the policy), then run `treasuryctl check`. This alert is sent once "
        "until the entry is back."),
    model.DESTINATION_TAG_INVALID: (
        "A destination's tag (memo) no longer suits its network's rules on the exchange "
        "(withdrawTag, memoRegex): a tag where the network takes none, none where it requires "
        "one, or one that does not match. Its intents are refused (invalid_destination). Fix the "
        "destination's tag in the policy file and restart. This alert is sent once until it is fixed."),
    model.WITHDRAW_QUOTA_80: (
        "The exchange account's 24-hour withdrawal quota (Binance's wdQuota, in USD, for on-chain "
        "withdrawals and internal transfers together) is at least 80% used. Once it is used up, "
        "stablecoin intents that do not fit wait (they are not rejected) and other coins' "
        "withdrawals may be refused by the exchange. It refills as the 24 hours roll. This alert "
        "is sent once per crossing: again only after the use fell below 80%."),
    model.WITHDRAW_QUOTA_HELD: (
        "This intent was not sent: its value in USD is above what is left of the exchange's "
        "24-hour withdrawal quota, so the exchange would refuse it. It stays queued and is "
        "retried as the quota refills; nothing is lost. Raise the account's limit on Binance "
        "(verification level) if this is the normal flow, or cancel the intent. This alert is "
        "sent once per intent."),
}

# -- issue 13 (docs/design.md section 9): the custody controls. Appended in one block so
# that parallel additions merge cleanly; each table still holds every kind once.
SUMMARY = {
    **SUMMARY,
    model.FROZEN: lambda f: f"FROZEN by {f.get('frozen_by')}: {f.get('reason')}: every withdrawal stopped",
    model.UNFROZEN: lambda f: f"unfrozen by {f.get('unfrozen_by')}: withdrawals go on",
    model.BREAKER_TRIPPED: lambda f: (
        f"circuit breaker {f.get('breaker')} tripped: withdrawals FROZEN: {f.get('detail')}"),
    model.FOREIGN_WITHDRAWAL: lambda f: (
        f"withdrawal NOT made by the treasury: {f.get('amount')} {f.get('coin')} to {f.get('address')}"),
    model.JOURNAL_BROKEN: lambda f: (
        f"journal hash chain BROKEN at {f.get('table')} row {f.get('row')}: withdrawals refused"),
    model.DAILY_STATEMENT: lambda f: f"daily statement for {f.get('day')}",
    model.WOULD_WITHDRAW: lambda f: (
        f"SHADOW: would withdraw {f.get('amount')} {f.get('coin')} to {f.get('destination')} (nothing sent)"),
}
PLURAL = {
    **PLURAL,
    model.FROZEN: "freezes",
    model.UNFROZEN: "unfreezes",
    model.BREAKER_TRIPPED: "circuit breakers tripped",
    model.FOREIGN_WITHDRAWAL: "withdrawals the treasury did not make",
    model.JOURNAL_BROKEN: "journal verification failures",
    model.DAILY_STATEMENT: "daily statements",
    model.WOULD_WITHDRAW: "shadow withdrawals",
}
WHAT_IT_MEANS = {
    **WHAT_IT_MEANS,
    model.FROZEN: (
        "An operator froze the treasury: no withdrawal request is sent to the exchange until it is "
        "unfrozen (an apply already in flight finished and is followed to its end). New intents are "
        "rejected with reason code frozen; polling and alerts go on. The freeze survives restarts. "
        "`treasuryctl unfreeze` lifts it (with the quorum, where [approvals] sets one)."),
    model.UNFROZEN: (
        "The freeze was lifted: the treasury decides and withdraws again. Queued intents are sent "
        "in order, spaced as the policy says."),
    model.BREAKER_TRIPPED: (
        "A circuit breaker of the policy's [circuit_breakers] saw something that should not happen "
        "and froze the treasury by itself: no withdrawal is sent until an operator has looked and "
        "run `treasuryctl unfreeze`. What tripped it is below. docs/operations.md has the runbook."),
    model.FOREIGN_WITHDRAWAL: (
        "The exchange account's withdrawal history shows a withdrawal that the treasury's ledger "
        "did not make: made by another key, on the website, or by a treasury whose ledger was "
        "restored from an older copy. If you did not make it, the account may be compromised: "
        "revoke its API keys on Binance now. The treasury is frozen."),
    model.JOURNAL_BROKEN: (
        "The ledger's hash chain does not verify: a row was edited, deleted or inserted outside "
        "the treasury. The treasury refuses to withdraw on a broken chain. `treasuryctl verify` "
        "names the first broken link; docs/operations.md has the runbook."),
    model.DAILY_STATEMENT: (
        "The treasury's statement of the last day. Its chain head is the hash of the journal as it "
        "stood: keep this mail, it anchors the history outside the host (`treasuryctl verify` "
        "shows the same head while the journal is intact)."),
    model.WOULD_WITHDRAW: (
        "The treasury runs in SHADOW mode (policy `mode = \"shadow\"`): it decided this intent as "
        "live mode would, and would have sent this withdrawal now. Nothing was sent to the exchange."),
}


# Issue 13 item 3 (the quorum approvals' own kind).
SUMMARY = {**SUMMARY, model.LOOSENING_RELEASED: lambda f: (
    f"loosening {f.get('setting')} released early by {f.get('released_by')}: in force from the next start")}
PLURAL = {**PLURAL, model.LOOSENING_RELEASED: "loosenings released early"}

# Issue 16 item 2 (common/key_hygiene.py).
SUMMARY = {**SUMMARY, model.KEY_HYGIENE: lambda f: f"exchange key due for rotation: {f.get('problem')}"}
PLURAL = {**PLURAL, model.KEY_HYGIENE: "key hygiene warnings"}
WHAT_IT_MEANS = {**WHAT_IT_MEANS, model.KEY_HYGIENE: (
    "The treasury's Binance key is older than the policy's [keys] rotate_after_days (default 90), "
    "from apiRestrictions createTime, or its trading right expires within 14 days "
    "(tradingAuthorityExpirationTime). Nothing stops. Rotate the key as docs/deployment.md's "
    "\"Key rotation\" runbook says: new key with the same rights and IP list, put it in the env "
    "file, treasuryctl check, reload (or restart), verify, delete the old key. This warning "
    "comes at most once a week.")}
WHAT_IT_MEANS = {**WHAT_IT_MEANS, model.LOOSENING_RELEASED: (
    "A quorum of operators signed `treasuryctl loosen-early` for a pending loosening of the policy: "
    "it no longer waits for its quarantine and is in force from the treasury's next start. If you "
    "did not expect this, an operator key may be compromised: freeze the treasury, put the old "
    "value back in the policy file and remove the operator from [approvals] operators.")}


# (fact, label) in the order a person reads them; facts not listed are shown after them.
FACT_ROWS: tuple[tuple[str, str], ...] = (
    ("status", "Status"),
    ("client", "Client"),
    ("amount", "Amount"),
    ("network", "Network"),
    ("destination", "Destination"),
    ("address", "Address"),
    ("reason_code", "Reason code"),
    ("approval_above", "Approval above"),
    ("withdrawal_id", "Exchange withdrawal id"),
    ("tx_id", "Transaction id"),
    ("fee", "Fee"),
    ("exchange_code", "Exchange code"),
    ("exchange_message", "Exchange message"),
    ("submitted_at_ms", "Submitted at"),
    ("completed_at_ms", "Completed at"),
    ("stuck_after_minutes", "Stuck after (minutes)"),
    ("problem", "Problem"),
    ("cause", "Cause"),
    ("fix", "What to do"),
    ("action", "Action taken"),
    ("api_key", "API key (masked)"),
    ("scope", "Cap of"),
    ("coin", "Coin"),
    ("used", "Used in window"),
    ("cap", "Window cap"),
    ("percent", "Percent of cap"),
    ("path", "Policy file"),
    ("old_sha256", "Previous sha256"),
    ("new_sha256", "New sha256"),
    ("version", "Version"),
    ("policy_sha256", "Policy sha256"),
    ("destinations", "Destinations"),
    ("open_withdrawals", "Open withdrawals"),
    ("pending_approvals", "Pending approvals"),
    ("mail", "Alerts go to"),
    ("warnings", "Warnings"),
    ("pending_loosenings", "Pending loosenings"),
    ("chain_head", "Journal chain head"),
    ("detail", "Detail"),
    ("reason", "Client's reason (as sent)"),
    ("exchange_minus_host", "Exchange minus host (ms)"),
    ("host_time_ms", "Host clock read"),
    ("exchange_time_ms", "Exchange clock read"),
    ("threshold_seconds", "Alerted beyond (seconds)"),
    ("queued_since_ms", "Queued since"),
    ("value_usd", "Value (USD)"),
    ("quota_used", "Quota used, 24 h (USD)"),
    ("quota_left", "Quota left (USD)"),
    ("quota_total", "Quota, 24 h (USD)"),
    ("quarantine_ends_ms", "Quarantine would have ended"),   # issue 13 item 3
)


# Issue 16 item 1 (a reload that kept the running value).
SUMMARY = {**SUMMARY, model.RELOAD_REFUSED: lambda f: (
    f"reload refused for the {f.get('part')}: the running one is kept")}
PLURAL = {**PLURAL, model.RELOAD_REFUSED: "refused reloads"}
WHAT_IT_MEANS = {**WHAT_IT_MEANS, model.RELOAD_REFUSED: (
    "A reload (SIGHUP or `treasuryctl reload`) could not take one of its parts: an invalid "
    "policy file, an unreadable CURVE allow-list, or a new exchange key that failed the key "
    "self-audit. The treasury keeps running on what it had, and the file on disk is NOT what "
    "runs. Fix what the detail names, then reload again (`treasuryctl check` shows the problem); "
    "an edited policy file left unreloaded trips the policy_changed breaker.")}
