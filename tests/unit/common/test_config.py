"""Each bot's settings from its own env file, overridable by the real environment; every
problem names its variable; secrets never show in a repr."""

from __future__ import annotations


import pytest

from common.config import (ConfigError, check_base_url, check_endpoint,
                           endpoint_is_loopback, parse_bind)


@pytest.mark.parametrize("url, ok", [
    ("https://api.binance.com", True), ("https://api.binance.com/", True), ("http://127.0.0.1:8000", True),
    ("http://localhost:8000", True), ("http://[::1]:8000", True), ("http://127.8.9.10", True),
    ("http://api.binance.com", False), ("http://10.0.0.1:8000", False), ("http://0.0.0.0:80", False),
    ("https://", False), ("ws://127.0.0.1", False), ("api.binance.com", False),
])
def test_the_base_url_is_https_unless_its_host_is_loopback(url, ok):
    """http:// is allowed only for a loopback host (the sandbox); a trailing slash is dropped."""
    if ok:
        assert check_base_url(url) == url.rstrip("/")
    else:
        with pytest.raises(ConfigError, match="BINANCE_BASE_URL"):
            check_base_url(url)


@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:7701", True), ("tcp://localhost:7701", True), ("tcp://[::1]:7701", True),
    ("tcp://0.0.0.0:7701", False), ("tcp://10.1.2.3:7701", False), ("tcp://treasury.internal:7701", False),
])
def test_endpoint_loopback_detection(endpoint, loopback):
    """Only loopback hosts count as loopback (binding elsewhere needs CURVE, always on)."""
    assert check_endpoint("X", endpoint) == endpoint
    assert endpoint_is_loopback(endpoint) is loopback


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:80", ("::1", 80)), ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_parse_bind(text, expected):
    """HOST:PORT, with brackets around an IPv6 host."""
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["8080", ":8080", "host:port", "host:70000"])
def test_parse_bind_refuses_bad_binds(text):
    """A bind without host or with a bad port names SIGNAL_WEBHOOK_BIND."""
    with pytest.raises(ConfigError, match="SIGNAL_WEBHOOK_BIND"):
        parse_bind(text)
