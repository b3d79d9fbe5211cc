"""Alert records and their constructors: kinds, severities, facts, masking."""

from __future__ import annotations

import inspect
from decimal import Decimal

import pytest

from treasury_bot.alerts import events, model
from tests.support.alert_samples import AT_MS, FAKE_API_KEY, every_kind, transfer
from treasury_bot.alerts.model import CRITICAL, INFO, WARNING, Alert, AlertError, severity_of

FAKE_KEY = FAKE_API_KEY
AT = AT_MS
TRANSFER = transfer()


def test_there_is_one_constructor_per_kind_and_it_builds_that_kind():
    """Every stable kind has a constructor, so callers never spell a kind by hand."""
    built = every_kind()
    assert set(built) == set(model.KINDS)
    for kind, alert in built.items():
        assert alert.kind == kind
        assert alert.created_at_ms == AT


def test_default_severities_match_the_design():
    """CRITICAL: auth errors, needs_review, key audit, policy change, failed/rejected withdrawals."""
    expected = {
        model.START_SUMMARY: INFO, model.KEY_AUDIT_FAILED: CRITICAL, model.INTENT_REJECTED: WARNING,
        model.APPROVAL_NEEDED: WARNING, model.WITHDRAWAL_SUBMITTED: INFO,
        model.WITHDRAWAL_COMPLETED: INFO, model.WITHDRAWAL_FAILED: CRITICAL,
        model.WITHDRAWAL_REJECTED: CRITICAL, model.WITHDRAWAL_CANCELLED: WARNING,
        model.WITHDRAWAL_STUCK: WARNING, model.NEEDS_REVIEW: CRITICAL,
        model.EXCHANGE_AUTH_ERROR: CRITICAL, model.WINDOW_CAP_80: WARNING,
        model.POLICY_CHANGED: CRITICAL, model.TEST: INFO,
        model.CLOCK_DISAGREEMENT: WARNING,  # DESIGN section 9 (issue 10)
        model.WITHDRAWAL_STALLED: WARNING,
        # Issue 10: a client's budget refusals fold; a full disk and a failing thread do not.
        model.CLIENT_RATE_LIMITED: WARNING, model.LEDGER_DISK_LOW: CRITICAL,
        model.THREAD_FAILING: CRITICAL, model.THREAD_RECOVERED: INFO,
        # Issue 12: withdrawals to a destination stop, nothing is sent: told once per episode.
        model.ADDRESS_BOOK_MISSING: WARNING, model.DESTINATION_TAG_INVALID: WARNING,
        # Issue 12 item 4: the withdrawal quota; nothing is lost, withdrawals wait.
        model.WITHDRAW_QUOTA_80: WARNING, model.WITHDRAW_QUOTA_HELD: WARNING,
        # Issue 13 (DESIGN section 9): freezes, breakers, foreign withdrawals, a broken chain.
        model.FROZEN: CRITICAL, model.UNFROZEN: CRITICAL, model.BREAKER_TRIPPED: CRITICAL,
        model.FOREIGN_WITHDRAWAL: CRITICAL, model.JOURNAL_BROKEN: CRITICAL,
        model.DAILY_STATEMENT: INFO, model.WOULD_WITHDRAW: INFO,
        # Issue 13 item 3: the quorum let a loosening skip its quarantine.
        model.LOOSENING_RELEASED: CRITICAL,
        # Issue 16 item 1: a reload kept the running value (the file on disk is not what runs).
        model.RELOAD_REFUSED: CRITICAL,
        # Issue 16 item 2: an old key is said, weekly; nothing stops.
        model.KEY_HYGIENE: WARNING,
    }
    for kind, alert in every_kind().items():
        assert alert.severity == expected[kind] == severity_of(kind, {}), kind


def test_a_rejection_a_client_can_trigger_is_never_critical():
    """A hostile client's flood of rejections must fold: no reason code makes it CRITICAL."""
    for code in ("intent_id_conflict", "unknown_destination", "client_not_allowed", "stale_intent",
                 "over_window_limit", "invalid_destination"):
        assert severity_of(model.INTENT_REJECTED, {"reason_code": code}) == WARNING


def test_an_operator_rejection_is_info_and_a_start_with_warnings_is_a_warning():
    """The operator's own action is a record; a start with overrides is said loudly."""
    rejected = events.intent_rejected(TRANSFER, at_ms=AT, reason_code="operator_rejected")
    assert rejected.severity == INFO
    started = events.start_summary(at_ms=AT, version="1", api_key=None, policy_sha256="x", destinations=0,
                                   open_withdrawals=0, pending_approvals=0, mail="log only",
                                   warnings=["allow_unrestricted_ip is set"])
    assert started.severity == WARNING
    assert started.facts["warnings"] == "allow_unrestricted_ip is set"


def test_an_api_key_is_stored_only_masked():
    """Constructors take the raw key and keep its first 4 and last 4 characters only."""
    for alert in every_kind().values():
        assert FAKE_KEY not in repr(alert)
    audit = every_kind()[model.KEY_AUDIT_FAILED]
    assert audit.facts["api_key"] == f"{FAKE_KEY[:4]}...{FAKE_KEY[-4:]}"


def test_status_alerts_carry_the_status_name():
    """A status alert names the status (DESIGN section 6)."""
    built = every_kind()
    assert built[model.WITHDRAWAL_SUBMITTED].facts["status"] == "submitted"
    assert built[model.WITHDRAWAL_COMPLETED].facts["status"] == "completed"
    assert built[model.WITHDRAWAL_FAILED].facts["status"] == "failed"
    assert built[model.WITHDRAWAL_REJECTED].facts["status"] == "rejected"
    assert built[model.WITHDRAWAL_CANCELLED].facts["status"] == "cancelled"
    assert built[model.WITHDRAWAL_STUCK].facts["status"] == "processing"
    assert built[model.NEEDS_REVIEW].facts["status"] == "needs_review"
    assert built[model.INTENT_REJECTED].facts["status"] == "denied"
    assert built[model.APPROVAL_NEEDED].facts["status"] == "pending_approval"


def test_amounts_are_stored_in_their_canonical_spelling_never_as_floats():
    """Decimal("250.000") is "250"; a float fact is refused outright."""
    alert = every_kind()[model.WITHDRAWAL_FAILED]
    assert alert.facts["amount"] == "250"
    assert alert.intent_id == "withdrawal_failed"
    with pytest.raises(AlertError):
        Alert(kind=model.TEST, severity=INFO, intent_id=None, facts={"amount": 1.5}, created_at_ms=AT)


def test_window_cap_alert_computes_its_percentage_and_scope():
    """82% of the coin's cap, or a destination's cap when one is named."""
    coin = events.window_cap_80(at_ms=AT, coin="USDT", used=Decimal("4100"), cap=Decimal("5000"))
    assert (coin.facts["percent"], coin.facts["scope"]) == (82, "coin")
    dest = events.window_cap_80(at_ms=AT, coin="USDT", used="1700", cap="2000", destination="cold-wallet",
                                intent_id="i-9")
    assert (dest.facts["percent"], dest.facts["scope"], dest.intent_id) == (85, "destination", "i-9")
    assert events.window_cap_80(at_ms=AT, coin="USDT", used="1", cap="0").facts["percent"] is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="nope", severity=INFO), "unknown alert kind"),
    (dict(kind=model.TEST, severity="LOUD"), "severity"),
    (dict(kind=model.TEST, severity=INFO, facts={"BadKey": "x"}), "lower_snake_case"),
    (dict(kind=model.TEST, severity=INFO, facts={"flag": True}), "str, int or None"),
    (dict(kind=model.TEST, severity=INFO, facts={"amount": Decimal("1")}), "str, int or None"),
    (dict(kind=model.TEST, severity=INFO, created_at_ms=1.5), "milliseconds"),
    (dict(kind=model.TEST, severity=INFO, intent_id=7), "intent_id"),
])
def test_an_invalid_alert_is_refused_with_a_clear_error(kwargs, message):
    """Bad kinds, severities and fact types never reach the ledger."""
    fields = dict(intent_id=None, facts={}, created_at_ms=AT)
    fields.update(kwargs)
    with pytest.raises(AlertError, match=message) as caught:
        Alert(**fields)
    assert caught.value.code == "alert_invalid"


def test_facts_are_copied_so_a_frozen_alert_cannot_change_behind_its_back():
    """Mutating the dict given to the constructor leaves the alert as it was."""
    facts = {"detail": "before"}
    alert = Alert(kind=model.TEST, severity=INFO, intent_id=None, facts=facts, created_at_ms=AT)
    facts["detail"] = "after"
    assert alert.facts["detail"] == "before"
    assert isinstance(hash(alert), int)  # usable in sets despite its dict of facts


def test_long_text_from_outside_is_cut_to_a_readable_length():
    """An exchange's whole error page does not become a mail."""
    alert = events.withdrawal_failed(TRANSFER, at_ms=AT, exchange_code=-1, exchange_message="x" * 5000,
                                     detail="y" * 5000)
    assert len(alert.facts["exchange_message"]) == 300
    assert len(alert.facts["detail"]) == 1000
    assert alert.facts["detail"].endswith("...")


def test_every_constructor_takes_keyword_arguments_for_everything_but_the_transfer():
    """Positional mix-ups (withdrawal id for tx id) are impossible."""
    for name in ("start_summary", "key_audit_failed", "intent_rejected", "approval_needed",
                 "withdrawal_submitted", "withdrawal_completed", "withdrawal_failed",
                 "withdrawal_rejected", "withdrawal_cancelled", "withdrawal_stuck", "needs_review",
                 "exchange_auth_error", "window_cap_80", "policy_changed", "mail_test"):
        params = inspect.signature(getattr(events, name)).parameters.values()
        positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional in ([], ["transfer"]), name
