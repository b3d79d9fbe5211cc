"""demo/prefix.py: prefixed lines, the wrapped program's exit status, signals passed on once."""

from __future__ import annotations

import io

import pytest

from demo.prefix import label, parse_after, relay


def test_relay_prefixes_every_line_and_ends_an_unterminated_one():
    """`name      | line`, one per line, even for a last line without a newline."""
    out = io.BytesIO()
    relay(io.BytesIO(b"one\ntwo"), out, label("sandbox"))
    assert out.getvalue() == b"sandbox   | one\nsandbox   | two\n"


def test_after_is_label_host_port():
    """`--after sandbox=127.0.0.1:7790`; a bad value is refused."""
    assert parse_after("sandbox=127.0.0.1:7790") == ("sandbox", "127.0.0.1", 7790)
    with pytest.raises(Exception):
        parse_after("sandbox=nowhere")
