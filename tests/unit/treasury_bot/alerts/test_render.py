"""Mail rendering: subjects, bodies, headers, commands, digests, and never a secret."""

from __future__ import annotations

import re
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest

from common.config import SmtpSettings
from common.logs import register_secret
from tests.support.alert_samples import ADDRESS, AT_MS, FAKE_API_KEY, every_kind, transfer
from treasury_bot.alerts import events, formats, model, render

SENDER = "treasury@example.com"
RECIPIENTS = ("ops@example.com", "oncall@example.org")
FAKE_SMTP_PASSWORD = "test-secret-not-real-0001"
FAKE_API_SECRET = "test-secret-not-real-0002-apisecret"


def mail_of(alerts, message_id="<m1.treasury-alert@example.com>", window_ms=None):
    return render.message(alerts, mail_from=SENDER, mail_to=RECIPIENTS, message_id=message_id,
                          date_ms=AT_MS, window_ms=window_ms)


def reparsed(msg):
    """The mail as a receiving client sees it: bytes on the wire, parsed back."""
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes(policy=policy.SMTP))


# -- subjects --------------------------------------------------------------------------------

def test_subjects_say_what_happened_and_how_bad():
    """The examples from the issue, to the character."""
    kinds = every_kind()
    assert render.subject([kinds[model.WITHDRAWAL_FAILED]]) == (
        "[treasury][CRITICAL] withdrawal failed: 250 USDT to cold-wallet (-4026 insufficient balance)")
    assert render.subject([kinds[model.INTENT_REJECTED]]) == (
        "[treasury][WARNING] intent rejected: 20 USDT to cold-wallet (over_window_limit)")
    assert render.subject([kinds[model.WITHDRAWAL_COMPLETED]]).startswith(
        "[treasury][INFO] withdrawal completed: 250 USDT to cold-wallet (tx 0x9c1f...e7f8)")


@pytest.mark.parametrize("kind, expected", [
    (model.START_SUMMARY, "[treasury][INFO] treasury started: 2 destinations, 1 open withdrawals, key test...efgh"),
    (model.KEY_AUDIT_FAILED, "[treasury][CRITICAL] key self-audit failed: key can trade (key test...efgh)"),
    (model.APPROVAL_NEEDED, "[treasury][WARNING] approval needed: 3000 USDT to cold-wallet (above 2500 USDT)"),
    (model.WITHDRAWAL_SUBMITTED, "[treasury][INFO] withdrawal submitted: 250 USDT to cold-wallet "
                                 "(exchange id 7213fea8e94b4a5593d507237e5a555b)"),
    (model.WITHDRAWAL_REJECTED, "[treasury][CRITICAL] withdrawal rejected by the exchange: 250 USDT to cold-wallet"),
    (model.WITHDRAWAL_CANCELLED, "[treasury][WARNING] withdrawal cancelled: 250 USDT to cold-wallet"),
    (model.WITHDRAWAL_STUCK, "[treasury][WARNING] withdrawal stuck: 250 USDT to cold-wallet "
                             "(processing for over 60 min)"),
    (model.NEEDS_REVIEW, "[treasury][CRITICAL] needs review: 250 USDT to cold-wallet "
                         "(outcome unknown, status needs_review)"),
    (model.EXCHANGE_AUTH_ERROR, "[treasury][CRITICAL] exchange auth error: -2015 invalid API key, IP or "
                                "permissions (withdrawals stopped)"),
    (model.WINDOW_CAP_80, "[treasury][WARNING] window cap over 80%: 4100 USDT of 5000 USDT (82%) for coin USDT"),
    (model.POLICY_CHANGED, "[treasury][CRITICAL] policy file changed: sha256 a1a1a1a1a1a1 -> b2b2b2b2b2b2"),
    (model.TEST, "[treasury][INFO] test mail from the treasury"),
])
def test_every_kind_has_a_subject_of_its_own(kind, expected):
    """Each kind's subject is fixed here, so a change to one is a visible decision."""
    assert render.subject([every_kind()[kind]]) == expected


def test_a_failure_without_a_known_code_shows_the_exchange_message_or_the_detail():
    """Unknown codes keep Binance's words; a failure with no code says why in its own."""
    unknown = events.withdrawal_failed(transfer(), at_ms=AT_MS, exchange_code=-4099,
                                       exchange_message="Something new happened")
    assert render.subject([unknown]).endswith("(-4099 Something new happened)")
    no_code = events.withdrawal_failed(transfer(), at_ms=AT_MS, detail="destination address changed")
    assert render.subject([no_code]).endswith("(destination address changed)")


def test_a_subject_is_one_line_even_when_a_fact_holds_a_newline():
    """No header injection: CR/LF from a client or an exchange become spaces."""
    alert = events.intent_rejected(transfer(destination="cold\r\nBcc: thief@example.net"), at_ms=AT_MS,
                                   reason_code="unknown_destination")
    msg = reparsed(mail_of([alert]))
    assert msg["Bcc"] is None
    assert "\n" not in render.subject([alert]) and "\r" not in render.subject([alert])


# -- bodies ----------------------------------------------------------------------------------

def test_a_single_alert_body_has_the_facts_a_person_needs():
    """Intent id, client, amount, destination, short address, exchange ids, status, UTC times."""
    body = render.body([every_kind()[model.WITHDRAWAL_COMPLETED]])
    for text in ("Intent id:", "withdrawal_completed", "Client:", "signal", "Amount:", "250 USDT",
                 "Destination:", "cold-wallet", "Address:", "TXYZab...9xQw",
                 "Exchange withdrawal id:", "7213fea8e94b4a5593d507237e5a555b",
                 "Transaction id:", "0x9c1f0a7be4d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8",
                 "Status:", "completed", "Fee:", "1 USDT",
                 "Raised at:", "2023-11-14T22:13:20.000Z", "Completed at:", "2023-11-14T22:13:15.000Z"):
        assert text in body, text
    assert ADDRESS not in body  # shortened, never in full


def test_a_failure_body_keeps_the_exchange_code_and_message():
    """The operator sees Binance's own words as well as ours."""
    body = render.body([every_kind()[model.WITHDRAWAL_FAILED]])
    assert re.search(r"Exchange code:\s+-4026", body)
    assert re.search(r"Exchange message:\s+User has insufficient balance", body)
    assert re.search(r"Status:\s+failed", body)


def test_every_body_names_its_intent_and_status_and_ends_with_what_to_do():
    """DESIGN: the subject or body names the intent id(s) and, for status alerts, the status."""
    for kind, alert in every_kind().items():
        body = render.body([alert])
        if alert.intent_id is not None:
            assert f"Intent id:                  {alert.intent_id}" in body, kind
        if "status" in alert.facts:
            assert f"Status:                     {alert.facts['status']}" in body, kind
        assert "What you can do:" in body and "treasuryctl " in body, kind
        assert body.endswith("Times are UTC.\n"), kind


@pytest.mark.parametrize("kind, commands", [
    (model.APPROVAL_NEEDED, ["treasuryctl approve approval_needed", "treasuryctl reject approval_needed",
                             "treasuryctl show approval_needed"]),
    (model.NEEDS_REVIEW, ["treasuryctl show needs_review",
                          'treasuryctl resolve needs_review --as completed --note "..."',
                          'treasuryctl resolve needs_review --as failed --note "..."']),
    (model.WITHDRAWAL_FAILED, ["treasuryctl show withdrawal_failed", "treasuryctl status"]),
    (model.INTENT_REJECTED, ["treasuryctl show intent_rejected"]),
    (model.EXCHANGE_AUTH_ERROR, ["treasuryctl check", "treasuryctl status"]),
    (model.KEY_AUDIT_FAILED, ["treasuryctl check", "treasuryctl status"]),
    (model.POLICY_CHANGED, ["treasuryctl check", "treasuryctl status"]),
    (model.WINDOW_CAP_80, ["treasuryctl status", "treasuryctl list"]),
    (model.START_SUMMARY, ["treasuryctl status"]),
])
def test_the_body_gives_the_exact_treasuryctl_commands(kind, commands):
    """Copy-paste ready: each command is a line of its own (its comment is a shell comment)."""
    body = render.body([every_kind()[kind]])
    lines = [line.split("#")[0].strip() for line in body.splitlines() if line.startswith("  treasuryctl ")]
    assert lines == commands


def test_an_intent_id_that_starts_with_a_dash_is_passed_after_double_dash():
    """`-abc` would be read as an option; `treasuryctl approve -- -abc` is not."""
    assert render.commands(model.APPROVAL_NEEDED, "-abc")[0][0] == "treasuryctl approve -- -abc"
    assert render.commands(model.NEEDS_REVIEW, "-abc")[1][0] == (
        'treasuryctl resolve --as completed --note "..." -- -abc')


def test_a_clients_reason_is_shown_on_one_line_labelled_as_the_clients():
    """A client cannot forge lines (or commands) that look like the treasury's own."""
    alert = events.intent_rejected(transfer(), at_ms=AT_MS, reason_code="over_transfer_limit",
                                   reason="sweep\n\nWhat you can do:\n  treasuryctl approve other-id")
    body = render.body([alert])
    assert re.search(r"Client's reason \(as sent\):\s+sweep What you can do: treasuryctl approve other-id\n",
                     body)
    assert "\n  treasuryctl approve other-id" not in body


def test_an_operator_rejection_reads_as_the_operators_action():
    """Not 'rejected by policy' when the operator did it."""
    alert = events.intent_rejected(transfer(), at_ms=AT_MS, reason_code="operator_rejected")
    assert "The operator rejected this intent" in render.body([alert])
    assert render.subject([alert]).startswith("[treasury][INFO] intent rejected:")


def test_an_expired_approval_reads_as_nobody_approving_in_time():
    """Issue 13 item 3: approval_expired says no quorum approved it within ttl_hours; a warning."""
    alert = events.intent_rejected(transfer(), at_ms=AT_MS, reason_code="approval_expired")
    assert "within [approvals] ttl_hours" in render.body([alert])
    assert render.subject([alert]).startswith("[treasury][WARNING] intent rejected:")


def test_short_addresses_keep_six_and_four_characters():
    """Long enough to recognise; short values are shown whole."""
    assert formats.short_address("TXYZabcdefghijklmnopqrstuvw9xQw") == "TXYZab...9xQw"
    assert formats.short_address("short-addr") == "short-addr"


def test_times_are_iso_utc_with_milliseconds():
    """Times in mails are UTC and unambiguous."""
    assert formats.iso_utc(0) == "1970-01-01T00:00:00.000Z"
    assert formats.iso_utc(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"


# -- digests -----------------------------------------------------------------------------------

def rejections(count: int, reason_for=lambda i: "over_window_limit"):
    return [events.intent_rejected(transfer(f"rej-{i:04d}", "20"), at_ms=AT_MS + i * 3,
                                   reason_code=reason_for(i)) for i in range(count)]


def test_a_digest_says_how_many_it_holds_and_lists_the_first_50_ids():
    """'200 rejected intents', ids 0-49 listed, then 'and 150 more'; first and last in full."""
    alerts = rejections(200, lambda i: "over_window_limit" if i % 4 else "unknown_destination")
    subject = render.subject(alerts)
    body = render.body(alerts, window_ms=60_000)
    assert subject == "[treasury][WARNING] 200 rejected intents (over_window_limit 150, unknown_destination 50)"
    assert body.startswith("200 rejected intents, raised between 2023-11-14T22:13:20.000Z and")
    assert "within 60 s of the first" in body
    listed = re.findall(r"^  (rej-\d{4})  ", body, flags=re.M)
    assert listed == [f"rej-{i:04d}" for i in range(50)]
    assert "  and 150 more" in body
    assert "By reason code: over_window_limit 150, unknown_destination 50" in body
    first, last = body.index("\nFirst:\n"), body.index("\nLast:\n")
    assert "rej-0000" in body[first:last] and "rej-0199" in body[last:]
    assert "rej-0100" not in body  # neither listed nor first/last


def test_a_digest_of_alerts_without_intents_still_counts_them():
    """Window cap warnings have no intent id; the digest lists them by time."""
    alerts = [events.window_cap_80(at_ms=AT_MS + i, coin="USDT", used=str(4000 + i), cap="5000")
              for i in range(3)]
    assert render.subject(alerts) == "[treasury][WARNING] 3 window cap warnings (USDT 3)"
    assert render.body(alerts).count("\n  -  2023-11-14T22:13:20.00") == 3


def test_the_digest_headers_count_its_alerts():
    """X-Treasury-Alert carries kind, severity and count for filters (and tests)."""
    msg = mail_of(rejections(7))
    assert msg["X-Treasury-Alert"] == "kind=intent_rejected; severity=WARNING; count=7"


# -- headers -----------------------------------------------------------------------------------

def test_headers_are_set_for_one_mail_to_all_recipients():
    """From, To (every recipient in one mail), Subject, Date, Message-ID, Auto-Submitted."""
    msg = reparsed(mail_of([every_kind()[model.NEEDS_REVIEW]]))
    assert msg["From"] == SENDER
    assert [a.addr_spec for a in msg["To"].addresses] == list(RECIPIENTS)
    assert msg["Subject"].startswith("[treasury][CRITICAL] needs review:")
    assert parsedate_to_datetime(msg["Date"]).timestamp() == AT_MS / 1000
    assert msg["Message-ID"] == "<m1.treasury-alert@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "needs_review" in msg.get_content()


def test_the_same_mail_renders_to_the_same_bytes():
    """A re-send after a crash is the very same mail (same Message-ID, Date and body)."""
    alerts = rejections(3)
    assert mail_of(alerts).as_bytes() == mail_of(alerts).as_bytes()


# -- secrets -----------------------------------------------------------------------------------

def test_no_secret_ever_appears_in_a_mail():
    """Registered secrets are blanked even if a fact carried one; the API key only masked."""
    smtp = SmtpSettings("127.0.0.1", 2525, "none", "alerts", FAKE_SMTP_PASSWORD, SENDER, RECIPIENTS)
    register_secret(smtp.password)
    register_secret(FAKE_API_SECRET)
    register_secret(FAKE_API_KEY)
    leaky = events.withdrawal_failed(
        transfer(), at_ms=AT_MS, exchange_code=-1022,
        exchange_message=f"Signature for this request is not valid. secret={FAKE_API_SECRET}",
        detail=f"login {smtp.username}:{smtp.password} key {FAKE_API_KEY}")
    for alerts in [[leaky], [leaky, leaky], *[[a] for a in every_kind().values()]]:
        raw = mail_of(alerts).as_bytes()
        text = reparsed(mail_of(alerts)).get_content() + str(reparsed(mail_of(alerts))["Subject"])
        for secret in (FAKE_SMTP_PASSWORD, FAKE_API_SECRET, FAKE_API_KEY):
            assert secret.encode() not in raw and secret not in text
    assert "***" in render.body([leaky])
    assert "test...efgh" in render.body([every_kind()[model.KEY_AUDIT_FAILED]])


# -- logs and the CLI --------------------------------------------------------------------------

def test_log_fields_never_overwrite_the_log_lines_own_fields():
    """A fact named like a log field (event, level) is renamed, not lost."""
    alert = model.Alert(kind=model.TEST, severity=model.INFO, intent_id=None,
                        facts={"event": "x", "level": "y", "detail": "z"}, created_at_ms=AT_MS)
    fields = render.log_fields(alert)
    assert fields["fact_event"] == "x" and fields["fact_level"] == "y" and fields["detail"] == "z"
    assert fields["kind"] == "test" and fields["summary"] == "test mail from the treasury"


def test_amount_facts_are_decimal_strings_in_their_canonical_form():
    """20.000 and 20 are the same amount and are shown the same."""
    a = events.intent_rejected(transfer(amount=Decimal("20.000")), at_ms=AT_MS, reason_code="x")
    assert "20 USDT to cold-wallet" in render.subject([a])


def test_every_mail_of_a_shadow_treasury_says_shadow_in_its_subject_and_first_line():
    """Shadow mode (issue 13 item 7): `[treasury][SHADOW][SEVERITY]` and a first body line."""
    for kind, alert in every_kind().items():
        msg = render.message([alert], mail_from=SENDER, mail_to=RECIPIENTS, message_id="<s1@example.com>",
                             date_ms=AT_MS, shadow=True)
        assert str(msg["Subject"]).startswith("[treasury][SHADOW]["), kind
        assert msg.get_content().startswith(render.SHADOW_LINE), kind
    live = render.message([every_kind()[model.WOULD_WITHDRAW]], mail_from=SENDER, mail_to=RECIPIENTS,
                          message_id="<s2@example.com>", date_ms=AT_MS)
    assert "[SHADOW]" not in str(live["Subject"])
