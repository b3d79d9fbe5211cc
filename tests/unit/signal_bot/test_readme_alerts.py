"""signal_bot/README.md's TradingView alert messages work: each, rendered as TradingView
would, becomes the signal it promises under its profile. Reads the file as text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from signal_bot.config_file import parse_config
from signal_bot.webhook import Judged, judge_body

README = Path(__file__).resolve().parents[3] / "signal_bot" / "README.md"
SECRET = "YOUR-SIGNAL_WEBHOOK_SECRET"
NOW_MS = 1_566_899_760_000                                # 2019-08-27T09:56:00Z
RENDERED = {"{{ticker}}": "BTCUSDT", "{{exchange}}": "BINANCE", "{{strategy.order.action}}": "buy",
            "{{strategy.order.contracts}}": "0.001", "{{close}}": "50000.5", "{{timenow}}": "2019-08-27T09:56:00Z"}
BASE = '[risk]\nsymbols = ["BTCUSDT"]\nmax_quote_per_order = "100"\nmax_orders_per_minute = 5\n'


def blocks() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    found = dict(re.findall(r"```\w+ alert=(\w+)\n(.*?)\n```", text, re.S))
    found["mapped_toml"] = re.search(r"```toml\n(\[feed\]\nprofile = \"mapped\".*?)\n```", text, re.S).group(1)
    return found


def render(message: str) -> bytes:
    for placeholder, value in RENDERED.items():
        message = message.replace(placeholder, value)
    return message.encode()


@pytest.mark.parametrize("name, feed", [
    ("native", ""), ("tradingview", '[feed]\nprofile = "tradingview"\n'), ("mapped", None), ("text", ""),
])
def test_each_readme_alert_message_becomes_a_buy_of_btcusdt(name, feed):
    """Rendered with TradingView's values, each README message is a valid BUY BTCUSDT signal."""
    found = blocks()
    config = parse_config(BASE + (found["mapped_toml"] if feed is None else feed))
    judged = judge_body(render(found[name]), None, SECRET, config.feed.profile_rules(), NOW_MS)
    assert isinstance(judged, Judged), judged
    assert (judged.signal.symbol, judged.signal.side) == ("BTCUSDT", "BUY")
    assert judged.signal.quantity == "0.001"
