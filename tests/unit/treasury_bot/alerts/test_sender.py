"""The sender's pure parts: log-only mode and message ids (an unreachable server and the
lifecycle are in tests/integration/treasury_bot/alerts/test_sender.py; delivery through a
real SMTP server in tests/e2e/test_alerts_smtp.py)."""

from __future__ import annotations



from treasury_bot.alerts import transport


def test_send_test_mail_without_smtp_says_alerts_are_only_logged():
    """`treasuryctl alerts test` with SMTP_HOST unset is a clear 'no', not a crash."""
    assert transport.send_test_mail(None) == (False, "SMTP_HOST is not set: alerts are only written to the log")


def test_message_ids_use_the_senders_domain():
    """Stable for a deployment, and no DNS look-up of this host."""
    assert transport.message_id_domain("treasury@alerts.example.com") == "alerts.example.com"
    assert transport.message_id_domain("nobody") == "treasury-bot.invalid"
