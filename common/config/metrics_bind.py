"""`TREASURY_METRICS_BIND` / `SIGNAL_METRICS_BIND`: where a bot's /metrics, /healthz and
/readyz listen (issue 14). HOST:PORT; unset means the default (loopback); set to the empty
string, no listener at all. A bad value is a ConfigError naming the variable (exit 2)."""

from __future__ import annotations

from dataclasses import dataclass

from common.config.env import ConfigError, Env

TREASURY_DEFAULT = "127.0.0.1:9464"
SIGNAL_DEFAULT = "127.0.0.1:9465"


@dataclass(frozen=True)
class MetricsBind:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_metrics_bind(name: str, text: str) -> MetricsBind | None:
    """HOST:PORT -> MetricsBind; "" (or blanks) -> None (no listener). Raises ConfigError."""
    text = text.strip()
    if text == "":
        return None
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or any(c.isspace() for c in text):
        raise ConfigError(f"{name} must be HOST:PORT (or empty for no listener), not {text!r}")
    if not port_text.isdigit():
        raise ConfigError(f"{name} port must be a number, not {port_text!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{name} port must be 0-65535, not {port}")
    return MetricsBind(host, port)


def metrics_bind(env: Env, name: str, default: str) -> MetricsBind | None:
    """The variable as set (an empty value turns the listener off), else `default`."""
    raw = env.values.get(name)
    return parse_metrics_bind(name, default if raw is None else raw)
