"""The exchange_auth_error alert with a diagnosed cause (issue 12, item 6): its subject names
the cause in a few words, its body the cause, the plain words and what to do."""

from __future__ import annotations

from common.binance import AuthError
from common.binance.key_refusal import diagnose_read
from treasury_bot.alerts import model, raised, render, wording

T0 = 1_700_000_000_000
KEY = "keyNOTreal000000000000000000000000000000000000000000000000LAST"


def test_a_diagnosed_key_refusal_names_its_cause_and_fix_in_one_critical_alert():
    """Subject: code and headline; facts: Cause, What to do, the plain words; the key masked."""
    diagnosis = diagnose_read(AuthError("Invalid API-key, IP, or permissions for action.", binance_code=-2015))
    alert = raised.exchange_auth_error(None, KEY, "-2015", "Invalid API-key, IP, or permissions for action.",
                                       T0, diagnosis=diagnosis)
    assert alert.kind == model.EXCHANGE_AUTH_ERROR and alert.severity == model.CRITICAL
    assert wording.summary(alert) == ("exchange auth error: -2015 API key deleted/expired or IP not allowed "
                                      "(withdrawals stopped)")
    lines = " ".join(" ".join(render.fact_lines(alert)).split())
    assert "Cause: key_deleted_or_ip_not_allowed" in lines and "What to do: in Binance's API Management" in lines
    assert "deleted or expired" in lines and KEY not in lines


def test_an_undiagnosed_key_refusal_reads_as_before():
    """Without a diagnosis (an older caller) the subject is the code and its short words."""
    alert = raised.exchange_auth_error(None, KEY, "-2015", "Invalid API-key, IP, or permissions for action.", T0)
    assert wording.summary(alert) == ("exchange auth error: -2015 invalid API key, IP or permissions "
                                      "(withdrawals stopped)")
    assert "cause" not in alert.facts
