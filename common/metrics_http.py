"""The metrics listener both bots share (issue 14): /metrics, /healthz and /readyz on one
small WSGI server from prometheus_client, on a daemon thread.

- /metrics: the process's own CollectorRegistry (never prometheus_client's global default,
  so two bots in one test process, or a library's own metrics, never mix), text format.
- /healthz: 200 while the process is alive and its main loop turns (a `Heartbeat` the loop
  beats, fresh within `stale_s`), else 503. A supervisor restarts on it.
- /readyz: 200 when every check of the bot's `ready()` passes, else 503 with the failed
  checks, one per line. A load balancer or an operator's script routes on it.

The body of both health answers is plain text, one `name: ok|FAIL detail` line a check.
Binding failure is the caller's to handle (OSError from `start`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler, make_server

from common.config.metrics_bind import MetricsBind
from common.heartbeat import Heartbeat


@dataclass(frozen=True)
class Check:
    """One health check's result."""

    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAIL'}{(' ' + self.detail) if self.detail else ''}"


def heartbeat_check(name: str, heartbeat: Heartbeat, stale_s: float) -> Check:
    """Pure: the loop turned within `stale_s` seconds."""
    age = heartbeat.age()
    if age is None:
        return Check(name, False, "has not turned yet")
    if age > stale_s:
        return Check(name, False, f"last turned {age:.1f} s ago (over {stale_s:g} s)")
    return Check(name, True, f"turned {age:.1f} s ago")


def health_answer(checks: Iterable[Check]) -> tuple[str, bytes]:
    """Pure: the HTTP status and body for a list of checks."""
    checks = list(checks)
    status = "200 OK" if all(c.ok for c in checks) else "503 Service Unavailable"
    return status, ("".join(c.line() + "\n" for c in checks)).encode("utf-8")


@dataclass
class HealthRoutes:
    """What /healthz and /readyz ask; each callable returns the checks of that moment."""

    alive: Callable[[], list[Check]]
    ready: Callable[[], list[Check]] = field(default=lambda: [])


def make_app(registry: CollectorRegistry, health: HealthRoutes):
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path in ("/healthz", "/readyz"):
            try:
                checks = health.alive() if path == "/healthz" else health.alive() + health.ready()
            except Exception as exc:  # a check that cannot run is a failed check, never a 500 page
                checks = [Check("checks", False, f"could not run: {type(exc).__name__}")]
            status, body = health_answer(checks)
            start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                    ("Content-Length", str(len(body))), ("Cache-Control", "no-store")])
            return [body]
        if path in ("/metrics", "/"):
            return metrics_app(environ, start_response)
        body = b"not found: /metrics, /healthz, /readyz\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


class MetricsServer:
    """The listener; `start` binds (raises OSError), `stop` closes it."""

    def __init__(self, bind: MetricsBind, registry: CollectorRegistry, health: HealthRoutes) -> None:
        self.bind = bind
        self.registry = registry
        self.health = health
        self._httpd = None
        self._thread: threading.Thread | None = None
        self.on_stop: Callable[[], None] | None = None   # e.g. unset the exchange-request hook

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self.bind.port

    @property
    def url(self) -> str:
        host = f"[{self.bind.host}]" if ":" in self.bind.host else self.bind.host
        return f"http://{host}:{self.port}"

    def start(self) -> "MetricsServer":
        import socket

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in self.bind.host else socket.AF_INET

        self._httpd = make_server(self.bind.host, self.bind.port, make_app(self.registry, self.health),
                                  Server, handler_class=_SilentHandler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


def start_listener(bind: MetricsBind | None, metrics, env_name: str, log) -> "MetricsServer | None":
    """Bind `metrics` (its `install()`, `registry` and `health()`) when `env_name` is set; a
    bind failure is logged (ERROR) and the bot runs on without it: custody and trading never
    wait on monitoring, and Prometheus' `up == 0` alert says the target is gone. Both bots
    start their listener here; returns the server or None."""
    from common.binance import observe
    if bind is None:
        log.info("metrics_off", detail=f"{env_name} is empty")
        return None
    metrics.install()
    try:
        server = MetricsServer(bind, metrics.registry, metrics.health()).start()
    except OSError as exc:
        observe.set_observer(None)
        log.error("metrics_bind_failed", bind=str(bind), error=exc.strerror or str(exc))
        return None
    server.on_stop = lambda: observe.set_observer(None)
    log.info("metrics_listening", url=f"{server.url}/metrics", healthz=f"{server.url}/healthz",
             readyz=f"{server.url}/readyz")
    return server
