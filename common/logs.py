"""Structured logging: one line per event, `key=value` or JSON, with secrets scrubbed.

Use `log = get_logger("treasury.executor")` then `log.info("withdrawal_submitted",
intent_id=..., withdrawal_id=...)`. Every line carries time, level, program and event.
Any value registered with `register_secret` is replaced by `***` in every line, as a last
line of defence: code should never log a secret in the first place.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
import threading
import time
from typing import Any

_listener: "logging.handlers.QueueListener | None" = None
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_program = "app"


def register_secret(value: str | None) -> None:
    """Scrub this value from every log line from now on (short values are ignored)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    with _secrets_lock:
        secrets = list(_secrets)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def mask_key(key: str | None) -> str:
    """An API key as its first 4 and last 4 characters, the most docs/design.md lets us show."""
    if not key:
        return "(none)"
    if len(key) <= 12:
        return "****"
    return f"{key[:4]}...{key[-4:]}"


def _format_value(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        return json.dumps(text)
    return text


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "program": _program,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}) or {})
        if record.exc_info or record.exc_text:
            text = record.exc_text or self.formatException(record.exc_info)
            fields["exc"] = text.replace("\n", " | ")
        if self.as_json:
            line = json.dumps(fields, default=str)
        else:
            line = " ".join(f"{k}={_format_value(v)}" for k, v in fields.items())
        return scrub(line)


class EventLogger:
    """A thin wrapper: `log.info("event_name", key=value, ...)`."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={"fields": fields}, exc_info=exc_info)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, False, fields)

    def error(self, event: str, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.ERROR, event, exc_info, fields)

    def critical(self, event: str, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.CRITICAL, event, exc_info, fields)


class _StreamHandler(logging.StreamHandler):
    """A stream handler that drops a line, silently, when its stream has been closed
    (a process winding down, or a test's captured stderr after the test)."""

    def handleError(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "closed", False):
            return
        super().handleError(record)


class _PreparedQueueHandler(logging.handlers.QueueHandler):
    """Queues the record as it is: our formatter runs on the listener thread (the stock
    QueueHandler would format here, on the caller's thread, and flatten the fields)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info and not record.exc_text:
            # Tracebacks must be rendered now, while the frames still exist.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        return record


def flush_logs() -> None:
    """Write out every queued line (at exit, and before a process reports it stopped)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def get_logger(name: str) -> EventLogger:
    return EventLogger(logging.getLogger(name))


def setup_logging(program: str, level: str | None = None, fmt: str | None = None,
                  stream=None) -> None:
    """Configure the root logger once per process from LOG_LEVEL / LOG_FORMAT."""
    global _program
    _program = program
    level_name = (level or os.environ.get("LOG_LEVEL") or "INFO").upper()
    fmt_name = (fmt or os.environ.get("LOG_FORMAT") or "text").lower()
    if fmt_name not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, not {fmt_name!r}")
    if level_name not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level_name!r}")
    global _listener
    handler = _StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(_Formatter(as_json=fmt_name == "json"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    if _listener is not None:
        _listener.stop()
    # Formatting and writing happen on a listener thread: a slow or blocked stdout (a
    # supervisor's pipe) must never stall a decision or a withdrawal.
    records: queue.SimpleQueue = queue.SimpleQueue()
    root.addHandler(_PreparedQueueHandler(records))
    _listener = logging.handlers.QueueListener(records, handler, respect_handler_level=False)
    _listener.start()
    atexit.register(flush_logs)
    root.setLevel(level_name)
    # Libraries' own chatter (urllib3 prints URLs with signatures at DEBUG) stays quiet.
    for noisy in ("urllib3", "requests", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
