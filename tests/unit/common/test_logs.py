"""Structured logging: one line per event as key=value or JSON, LOG_LEVEL honoured,
registered secrets scrubbed from every line, API keys shown only masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from common import logs
from common.logs import get_logger, mask_key, register_secret, scrub, setup_logging


@pytest.fixture(autouse=True)
def restore_logging():
    """setup_logging replaces the root handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level, program = list(root.handlers), root.level, logs._program
    yield
    logs.flush_logs()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logs._program = program


def lines_of(stream: io.StringIO) -> list[str]:
    logs.flush_logs()  # the listener thread writes; stopping it drains the queue
    return stream.getvalue().splitlines()


def configured(fmt: str = "text", level: str | None = "DEBUG") -> io.StringIO:
    stream = io.StringIO()
    setup_logging("testprog", level, fmt, stream=stream)
    return stream


def test_text_lines_are_key_value_pairs_with_the_standard_fields():
    """A text line starts with ts, level, program, logger, event, then the event's fields."""
    stream = configured("text")
    get_logger("treasury.executor").info("withdrawal_submitted", intent_id="abc-1", attempt=2)
    [line] = lines_of(stream)
    pairs = dict(part.split("=", 1) for part in line.split(" "))
    assert list(pairs)[:5] == ["ts", "level", "program", "logger", "event"]
    assert pairs["level"] == "info" and pairs["program"] == "testprog"
    assert pairs["logger"] == "treasury.executor" and pairs["event"] == "withdrawal_submitted"
    assert pairs["intent_id"] == "abc-1" and pairs["attempt"] == "2"
    assert pairs["ts"].endswith("Z") and "T" in pairs["ts"]


@pytest.mark.parametrize("value, shown", [
    ("two words", '"two words"'), ("", '""'), ('a"b', '"a\\"b"'), ("a=b", '"a=b"'), ("line\nbreak", '"line\\nbreak"'),
    ("plain", "plain"), (None, "None"), (3, "3"),
])
def test_text_values_needing_quotes_are_json_quoted(value, shown):
    """Spaces, quotes, '=', newlines and the empty string are quoted, so a line stays one line."""
    stream = configured("text")
    get_logger("t").info("ev", field=value)
    [line] = lines_of(stream)
    assert line.endswith(f" field={shown}")


def test_json_lines_hold_the_same_fields():
    """LOG_FORMAT=json gives one JSON object per line with the same keys."""
    stream = configured("json")
    get_logger("treasury.poller").warning("poll_rate_limited", retry_after=2.5, note="a b")
    [line] = lines_of(stream)
    record = json.loads(line)
    assert record["level"] == "warning" and record["event"] == "poll_rate_limited"
    assert record["retry_after"] == 2.5 and record["note"] == "a b" and record["program"] == "testprog"


def test_a_traceback_stays_on_one_line():
    """exc_info renders the traceback into the line, joined with ' | '."""
    stream = configured("text")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("t").error("step_failed", exc_info=True)
    [line] = lines_of(stream)
    assert "RuntimeError: boom" in line and " | " in line


def test_log_level_drops_lower_levels():
    """At WARNING, info and debug lines are not written."""
    stream = configured("text", "WARNING")
    log = get_logger("t")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.critical("c")
    assert [line.split("event=")[1] for line in lines_of(stream)] == ["w", "c"]


def test_log_level_and_format_come_from_the_environment(monkeypatch):
    """Without arguments, LOG_LEVEL and LOG_FORMAT are read from the environment."""
    monkeypatch.setenv("LOG_LEVEL", "error")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    stream = io.StringIO()
    setup_logging("envprog", stream=stream)
    get_logger("t").warning("dropped")
    get_logger("t").error("kept")
    [line] = lines_of(stream)
    assert json.loads(line)["event"] == "kept"


@pytest.mark.parametrize("level, fmt, word", [("LOUD", "text", "LOG_LEVEL"), ("INFO", "xml", "LOG_FORMAT")])
def test_bad_log_settings_are_refused_naming_the_variable(level, fmt, word):
    """An unknown level or format is a ValueError naming the variable."""
    with pytest.raises(ValueError, match=word):
        setup_logging("p", level, fmt, stream=io.StringIO())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_registered_secrets_are_scrubbed_from_every_line(fmt):
    """A registered secret never reaches the output, in fields, events or tracebacks."""
    secret = "sekrit-value-for-scrub-test-0001"
    register_secret(secret)
    stream = configured(fmt)
    log = get_logger("t")
    log.info("leak", api_secret=secret, url=f"https://x/?signature=1&k={secret}")
    try:
        raise ValueError(f"bad {secret}")
    except ValueError:
        log.error(f"event {secret}", exc_info=True)
    output = "\n".join(lines_of(stream))
    assert secret not in output
    assert output.count("***") >= 4


def test_short_values_are_not_registered_as_secrets():
    """Values under 6 characters (or empty) are ignored, so common words are not blanked."""
    register_secret("abc")
    register_secret("")
    register_secret(None)
    assert scrub("abc def") == "abc def"


def test_scrub_replaces_every_occurrence():
    """Each occurrence of each registered secret becomes ***."""
    register_secret("first-secret-xyz")
    register_secret("second-secret-xyz")
    assert scrub("first-secret-xyz/second-secret-xyz/first-secret-xyz") == "***/***/***"


@pytest.mark.parametrize("key, shown", [
    (None, "(none)"), ("", "(none)"), ("short", "****"), ("exactly12chr", "****"),
    ("abcdefghijklm", "abcd...jklm"), ("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                                       "vmPU...Eh8A"),
])
def test_mask_key_shows_at_most_four_and_four(key, shown):
    """An API key is shown as its first and last 4 characters; short keys not at all."""
    assert mask_key(key) == shown


def test_the_default_handler_writes_to_stderr(capsys):
    """Without a stream, lines go to sys.stderr (as it is when logging is set up)."""
    setup_logging("errprog", "INFO", "text")
    get_logger("t").info("to_stderr", n=1)
    logs.flush_logs()
    assert "event=to_stderr n=1" in capsys.readouterr().err


def test_a_line_for_a_closed_stream_is_dropped_quietly(capsys):
    """A stream closed under the logger (a process winding down) drops lines without a traceback."""
    stream = io.StringIO()
    setup_logging("closing", "INFO", "text", stream=stream)
    stream.close()
    get_logger("t").info("after_close")
    logs.flush_logs()
    assert "Logging error" not in capsys.readouterr().err


def test_noisy_libraries_stay_quiet_below_warning():
    """urllib3 and requests log URLs with signatures at DEBUG: they are kept at WARNING."""
    configured("text", "DEBUG")
    for name in ("urllib3", "requests"):
        assert logging.getLogger(name).level == logging.WARNING


def test_a_second_setup_replaces_the_first():
    """Calling setup_logging again does not duplicate lines."""
    configured("text")
    stream = configured("text")
    get_logger("t").info("once")
    assert len(lines_of(stream)) == 1
