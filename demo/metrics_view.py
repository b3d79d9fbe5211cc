"""The demo's look at the bots' /metrics (issue 14): where they are, and a few headline
figures once the story is complete. The listeners are the bots' defaults (loopback)."""

from __future__ import annotations

import urllib.request

from common.config.metrics_bind import SIGNAL_DEFAULT, TREASURY_DEFAULT

TREASURY_URL = f"http://{TREASURY_DEFAULT}"
SIGNAL_URL = f"http://{SIGNAL_DEFAULT}"

HEADLINES = (  # (sample name, labels, what it says)
    ("treasury_decisions_total", {"outcome": "accepted"}, "treasury: intents accepted"),
    ("treasury_withdrawals_total", {"status": "completed"}, "treasury: withdrawals completed"),
    ("treasury_alert_mails_sent_total", {}, "treasury: alert mails sent"),
    ("treasury_decision_seconds_count", {}, "treasury: decisions timed"),
    ("signal_bot_signals_handled_total", {"outcome": "placed"}, "signal bot: orders placed"),
    ("signal_bot_webhook_requests_total", {"code": "401"}, "signal bot: webhook 401s"),
)


def where() -> list[str]:
    return [f"  metrics    Prometheus text: treasury {TREASURY_URL}/metrics,",
            f"             signal {SIGNAL_URL}/metrics; each also /healthz, /readyz"]


def pick(text: str, name: str, labels: dict[str, str]) -> float:
    """Pure: the sum of a scrape's samples of `name` whose labels include `labels`."""
    from prometheus_client.parser import text_string_to_metric_families
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def headlines(fetch=None) -> list[str]:
    """A few figures from both scrapes; a bot that does not answer says so."""
    fetch = fetch or _fetch
    texts: dict[str, str] = {}
    missing: list[str] = []
    for prefix, url in (("treasury", TREASURY_URL), ("signal_bot", SIGNAL_URL)):
        try:
            texts[prefix] = fetch(f"{url}/metrics")
        except OSError as exc:
            missing.append(f"  ({prefix} {url}/metrics did not answer: {getattr(exc, 'reason', exc)})")
    lines = ["Headline figures from /metrics:"]
    for name, labels, what in HEADLINES:
        text = texts.get("signal_bot" if name.startswith("signal_bot") else "treasury")
        if text is not None:
            lines.append(f"  {what:<34} {pick(text, name, labels):g}")
    return lines + missing


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as reply:
        return reply.read().decode("utf-8")
