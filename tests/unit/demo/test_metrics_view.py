"""Issue 14: the demo's headline figures from the bots' /metrics (pure: the scrape is handed in)."""

from __future__ import annotations

from demo.metrics_view import headlines, pick, where

TREASURY = """# TYPE treasury_decisions counter
treasury_decisions_total{outcome="accepted",reason_code="none"} 2.0
treasury_decisions_total{outcome="rejected",reason_code="stale"} 1.0
# TYPE treasury_withdrawals counter
treasury_withdrawals_total{status="completed"} 1.0
"""


def test_pick_sums_the_samples_whose_labels_match():
    """Accepted decisions over every reason code; an absent metric is 0."""
    assert pick(TREASURY, "treasury_decisions_total", {"outcome": "accepted"}) == 2
    assert pick(TREASURY, "treasury_alert_mails_sent_total", {}) == 0


def test_headlines_show_figures_and_say_which_bot_did_not_answer():
    """The treasury's figures print; an unreachable signal bot is named, not a crash."""
    def fetch(url: str) -> str:
        if ":9465" in url:
            raise OSError("connection refused")
        return TREASURY
    lines = headlines(fetch)
    assert any("withdrawals completed" in line and line.rstrip().endswith("1") for line in lines)
    assert any("signal_bot" in line and "did not answer" in line for line in lines)


def test_the_banner_says_where_the_metrics_are():
    """Both listeners' addresses and the health pages."""
    text = "\n".join(where())
    assert "127.0.0.1:9464/metrics" in text and "127.0.0.1:9465/metrics" in text and "/readyz" in text
