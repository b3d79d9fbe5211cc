"""The signal bot's exchange session: proxies and CA bundle read once, never retried
(the order worker against a real state file is in tests/integration/signal_bot/test_app.py)."""

from __future__ import annotations


def test_the_exchange_session_reads_proxies_and_ca_bundle_once_and_never_retries(monkeypatch):
    """Proxy variables (NO_PROXY honoured) and REQUESTS_CA_BUNDLE are taken at creation, not per request;
    no adapter retries (a retried POST could trade twice)."""
    from signal_bot.bootstrap import exchange_session
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "sandbox.local")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/test-bundle-not-real.pem")
    proxied = exchange_session("https://api.binance.com")
    direct = exchange_session("https://sandbox.local:9000")
    assert proxied.trust_env is False and proxied.proxies == {"https": "http://proxy.invalid:3128"}
    assert direct.proxies == {} and proxied.verify == "/etc/ssl/test-bundle-not-real.pem"
    for prefix in ("http://", "https://"):
        retries = proxied.get_adapter(prefix + "x").max_retries
        assert retries.total == 0 and not retries.read
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.invalid:1")
    assert proxied.proxies == {"https": "http://proxy.invalid:3128"}      # read once, at creation
