"""Sample alerts of every kind, built the way the treasury builds them (fake values only)."""

from __future__ import annotations

from decimal import Decimal

from treasury_bot.alerts import events, model
from treasury_bot.alerts.model import Alert

FAKE_API_KEY = "test-apikey-not-real-0001-abcdefgh"
ADDRESS = "TXYZabcdefghijklmnopqrstuvw9xQw"
AT_MS = 1_700_000_000_000


def transfer(intent_id: str = "int-1", amount: Decimal | str = Decimal("250.000"),
             destination: str = "cold-wallet") -> events.Transfer:
    return events.Transfer(intent_id, "signal", "USDT", "TRX", amount, destination, ADDRESS)


def every_kind(at_ms: int = AT_MS, prefix: str = "") -> dict[str, Alert]:
    """One alert of each kind; intent alerts use intent id `{prefix}{kind}`."""
    def t(kind: str, amount: Decimal | str = Decimal("250.000")) -> events.Transfer:
        return transfer(f"{prefix}{kind}"[:36], amount)

    return {
        model.START_SUMMARY: events.start_summary(
            at_ms=at_ms, version="0.1.0", api_key=FAKE_API_KEY, policy_sha256="ab" * 32,
            destinations=2, open_withdrawals=1, pending_approvals=0, mail="smtp.example.com:587 starttls",
            chain_head="41:" + "c0" * 32),
        model.KEY_AUDIT_FAILED: events.key_audit_failed(
            at_ms=at_ms, api_key=FAKE_API_KEY, problem="key can trade",
            detail="apiRestrictions.enableSpotAndMarginTrading is true"),
        model.INTENT_REJECTED: events.intent_rejected(
            t(model.INTENT_REJECTED, "20"), at_ms=at_ms, reason_code="over_window_limit",
            detail="window sum would be 5020 of 5000 USDT", reason="sweep after fill"),
        model.APPROVAL_NEEDED: events.approval_needed(
            t(model.APPROVAL_NEEDED, "3000"), at_ms=at_ms, approval_above=Decimal("2500")),
        model.WITHDRAWAL_SUBMITTED: events.withdrawal_submitted(
            t(model.WITHDRAWAL_SUBMITTED), at_ms=at_ms, withdrawal_id="7213fea8e94b4a5593d507237e5a555b"),
        model.WITHDRAWAL_COMPLETED: events.withdrawal_completed(
            t(model.WITHDRAWAL_COMPLETED), at_ms=at_ms, withdrawal_id="7213fea8e94b4a5593d507237e5a555b",
            tx_id="0x9c1f0a7be4d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8",
            completed_at_ms=at_ms - 5000, fee=Decimal("1")),
        model.WITHDRAWAL_FAILED: events.withdrawal_failed(
            t(model.WITHDRAWAL_FAILED), at_ms=at_ms, exchange_code=-4026,
            exchange_message="User has insufficient balance"),
        model.WITHDRAWAL_REJECTED: events.withdrawal_rejected(
            t(model.WITHDRAWAL_REJECTED), at_ms=at_ms, withdrawal_id="wd-rej-1"),
        model.WITHDRAWAL_CANCELLED: events.withdrawal_cancelled(
            t(model.WITHDRAWAL_CANCELLED), at_ms=at_ms, withdrawal_id="wd-can-1"),
        model.WITHDRAWAL_STUCK: events.withdrawal_stuck(
            t(model.WITHDRAWAL_STUCK), at_ms=at_ms, withdrawal_id="wd-stuck-1", status="processing",
            submitted_at_ms=at_ms - 75 * 60_000, stuck_after_minutes=60),
        model.NEEDS_REVIEW: events.needs_review(
            t(model.NEEDS_REVIEW), at_ms=at_ms,
            detail="apply timed out and the id was not found in withdraw history within 30 min"),
        model.EXCHANGE_AUTH_ERROR: events.exchange_auth_error(
            at_ms=at_ms, api_key=FAKE_API_KEY, exchange_code=-2015,
            exchange_message="Invalid API-key, IP, or permissions for action."),
        model.WINDOW_CAP_80: events.window_cap_80(
            at_ms=at_ms, coin="USDT", used=Decimal("4100"), cap=Decimal("5000")),
        model.POLICY_CHANGED: events.policy_changed(
            at_ms=at_ms, path="/etc/treasury/treasury.toml", old_sha256="a1" * 32, new_sha256="b2" * 32),
        model.TEST: events.mail_test(at_ms=at_ms, detail="from the tests"),
        model.CLOCK_DISAGREEMENT: events.clock_disagreement(
            at_ms=at_ms, offset_ms=-21_600_000, host_ms=at_ms + 21_600_000, exchange_ms=at_ms,
            threshold_ms=60_000),
        model.WITHDRAWAL_STALLED: events.withdrawal_stalled(
            t(model.WITHDRAWAL_STALLED), at_ms=at_ms, queued_since_ms=at_ms - 61 * 60_000,
            stuck_after_minutes=60, detail="last error exchange_unavailable: connection refused"),
        model.CLIENT_RATE_LIMITED: events.client_rate_limited(
            at_ms=at_ms, client="signal-bot", refused=42, max_requests_per_minute=600),
        model.LEDGER_DISK_LOW: events.ledger_disk_low(
            at_ms=at_ms, path="/var/lib/treasury", free_mb=3, min_free_disk_mb=64),
        model.THREAD_FAILING: events.thread_failing(at_ms=at_ms, thread="coin-rules",
                                                    error_type="OperationalError"),
        model.THREAD_RECOVERED: events.thread_recovered(at_ms=at_ms, thread="coin-rules", failures=3),
        # Issue 12.
        model.ADDRESS_BOOK_MISSING: events.destination_refused(
            model.ADDRESS_BOOK_MISSING, at_ms=at_ms, destination="cold-wallet", coin="USDT", network="TRX",
            address=ADDRESS, detail="its address is not in the exchange's address book"),
        model.WITHDRAW_QUOTA_80: events.withdraw_quota_80(
            at_ms=at_ms, used=Decimal("8500"), total=Decimal("10000")),
        model.WITHDRAW_QUOTA_HELD: events.withdraw_quota_held(
            t(model.WITHDRAW_QUOTA_HELD), at_ms=at_ms, value_usd=Decimal("2000"), remaining=Decimal("1500"),
            total=Decimal("10000")),
        model.DESTINATION_TAG_INVALID: events.destination_refused(
            model.DESTINATION_TAG_INVALID, at_ms=at_ms, destination="cold-wallet", coin="USDT",
            network="TRX", address=ADDRESS,
            detail="has a tag, and the exchange takes none for USDT on TRX (withdrawTag false, no memoRegex)"),
        # Issue 13.
        model.LOOSENING_RELEASED: events.loosening_released(
            at_ms=at_ms, setting="limits.coins.USDT.max_per_transfer",
            change="limits.coins.USDT.max_per_transfer: 1000 -> 2000 takes effect 2023-11-15T22:13:20.000Z",
            released_by="alice, bob", quarantine_ends_ms=at_ms + 86_400_000),
        model.RELOAD_REFUSED: events.reload_refused(  # issue 16
            at_ms=at_ms, part="policy", detail="limits.coins.USDT.max_per_transfer: not a number"),
        model.FROZEN: events.frozen(at_ms=at_ms, frozen_by="alice", reason="key leak suspected"),
        model.UNFROZEN: events.unfrozen(at_ms=at_ms, unfrozen_by="alice, bob", note="keys rotated",
                                        frozen_by="alice", reason="key leak suspected",
                                        frozen_at_ms=at_ms - 3_600_000),
        model.BREAKER_TRIPPED: events.breaker_tripped(
            at_ms=at_ms, breaker="client_rejections", detail="client signal: 21 rejections in 10 minutes (max 20)"),
        model.FOREIGN_WITHDRAWAL: events.foreign_withdrawal(
            at_ms=at_ms, withdrawal_id="wd-foreign-1", withdraw_order_id=None, coin="USDT", network="TRX",
            amount=Decimal("900"), address=ADDRESS, exchange_status=6, apply_time="2023-11-14 22:13:20",
            detail="no intent in the ledger has this withdrawal id or withdrawOrderId"),
        model.JOURNAL_BROKEN: events.journal_broken(
            at_ms=at_ms, table="decisions", row=12, detail="its hash does not match its bytes"),
        model.DAILY_STATEMENT: events.daily_statement(
            at_ms=at_ms, day="2023-11-14", moved="2 withdrawals completed: 500 USDT",
            open_intents="1 pending approval", window_usage="USDT 500 of 5000", chain_head="c0" * 32),
        model.WOULD_WITHDRAW: events.would_withdraw(t(model.WOULD_WITHDRAW), at_ms=at_ms, status="completed"),
        # Issue 16 item 2.
        model.KEY_HYGIENE: events.key_hygiene(
            at_ms=at_ms, code="key_older_than_rotation", rotate_after_days=90,
            detail="TREASURY_API_KEY was created 120 days ago (2023-07-17T22:13:20Z, createTime)"),
    }
