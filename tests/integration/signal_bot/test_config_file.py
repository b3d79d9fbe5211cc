"""The signal bot's TOML config: strict, amounts as strings, errors naming file and key."""

from __future__ import annotations

import pytest

from common.config import ConfigError
from signal_bot.config_file import load_config, parse_config


def test_invalid_toml_and_missing_file_are_config_errors(tmp_path):
    """Unparseable text and an unreadable path both stop the start cleanly."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse_config("[risk", "signal.toml")
    with pytest.raises(ConfigError, match="SIGNAL_CONFIG_FILE"):
        load_config(tmp_path / "absent.toml")
