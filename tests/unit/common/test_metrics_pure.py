"""Issue 14, pure parts shared by both bots: the metrics bind setting and the health answers."""

from __future__ import annotations

import pytest

from common.config import ConfigError
from common.config.env import Env
from common.config.metrics_bind import MetricsBind, metrics_bind, parse_metrics_bind
from common.heartbeat import Heartbeat
from common.metrics_http import Check, health_answer, heartbeat_check


def test_a_host_and_port_parse_into_a_bind():
    """HOST:PORT, IPv4 or bracketed IPv6, is the listener's address."""
    assert parse_metrics_bind("X", "127.0.0.1:9464") == MetricsBind("127.0.0.1", 9464)
    assert parse_metrics_bind("X", "[::1]:9465") == MetricsBind("::1", 9465)


def test_an_empty_value_means_no_listener():
    """The variable set to the empty string turns the listener off."""
    assert parse_metrics_bind("X", "") is None
    assert metrics_bind(Env(None, {"TREASURY_METRICS_BIND": ""}), "TREASURY_METRICS_BIND", "127.0.0.1:1") is None


def test_an_unset_variable_takes_the_loopback_default():
    """Unset: the default given (loopback)."""
    assert metrics_bind(Env(None, {}), "SIGNAL_METRICS_BIND", "127.0.0.1:9465") == MetricsBind("127.0.0.1", 9465)


@pytest.mark.parametrize("text", ["9464", "localhost", ":9464", "host:port", "127.0.0.1:70000", "a b:1"])
def test_a_bad_bind_is_a_config_error_naming_the_variable(text):
    """Anything but HOST:PORT with a port 0-65535 raises ConfigError naming the variable."""
    with pytest.raises(ConfigError, match="TREASURY_METRICS_BIND"):
        parse_metrics_bind("TREASURY_METRICS_BIND", text)


def test_a_heartbeat_is_fresh_then_stale_as_its_clock_moves():
    """The loop check passes within its bound and fails, saying how long, past it."""
    now = [100.0]
    beat = Heartbeat(lambda: now[0])
    assert not heartbeat_check("loop", beat, 10).ok
    beat.beat()
    now[0] += 3
    assert heartbeat_check("loop", beat, 10).ok
    now[0] += 20
    stale = heartbeat_check("loop", beat, 10)
    assert not stale.ok and "23.0 s ago" in stale.detail


def test_health_answers_200_only_when_every_check_passes():
    """One failed check makes the page a 503 that names it."""
    status, body = health_answer([Check("a", True), Check("b", True, "fine")])
    assert status.startswith("200") and body == b"a: ok\nb: ok fine\n"
    status, body = health_answer([Check("a", True), Check("b", False, "down")])
    assert status.startswith("503") and b"b: FAIL down" in body
