"""sandbox/config.py: the TOML schema is strict and its errors name the key."""

from __future__ import annotations

import pytest

from sandbox.config import ConfigError, load_config, parse_config


def test_invalid_toml_and_missing_file_are_clear_errors(tmp_path):
    """Syntax errors and unreadable files say which file."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[exchange", "broken.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")
