"""Key hygiene as checks (issue 16 item 2): the pure warnings from apiRestrictions."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from common.key_hygiene import (DAY_MS, KEY_EXPIRING, KEY_OLD, WEEK_MS, age_line, key_hygiene, weekly_due)

NOW = 1_800_000_000_000


def rights(created=None, expires=None):
    return SimpleNamespace(create_time=created, trading_authority_expiration_time=expires)


def test_a_key_younger_than_rotate_after_days_gets_no_warning():
    """89 days old against the default 90: nothing to say."""
    assert key_hygiene(rights(NOW - 89 * DAY_MS), NOW) == []


def test_a_key_older_than_rotate_after_days_is_warned_with_its_age():
    """91 days old: one warning naming the age, createTime and the setting."""
    [warning] = key_hygiene(rights(NOW - 91 * DAY_MS), NOW, who="TREASURY_API_KEY")
    assert warning.code == KEY_OLD
    assert "91 days ago" in warning.detail and "createTime" in warning.detail
    assert "rotate_after_days = 90" in warning.detail and "TREASURY_API_KEY" in warning.detail


def test_rotate_after_days_is_the_callers_setting():
    """30 days: a 31-day-old key is warned, a 29-day-old one is not."""
    assert [w.code for w in key_hygiene(rights(NOW - 31 * DAY_MS), NOW, 30)] == [KEY_OLD]
    assert key_hygiene(rights(NOW - 29 * DAY_MS), NOW, 30) == []


def test_a_trading_right_expiring_within_14_days_is_warned_and_later_is_not():
    """tradingAuthorityExpirationTime 13 days ahead warns; 15 days ahead does not; past says expired."""
    assert [w.code for w in key_hygiene(rights(NOW, NOW + 13 * DAY_MS), NOW)] == [KEY_EXPIRING]
    assert key_hygiene(rights(NOW, NOW + 15 * DAY_MS), NOW) == []
    [past] = key_hygiene(rights(NOW, NOW - DAY_MS), NOW)
    assert "expired" in past.detail and "tradingAuthorityExpirationTime" in past.detail


def test_a_key_without_create_time_is_not_warned_and_says_so():
    """The exchange did not report createTime: no guess, the OK line says it."""
    assert key_hygiene(rights(), NOW) == []
    assert age_line(rights(), NOW) == "createTime not reported"
    assert age_line(rights(NOW - 3 * DAY_MS), NOW).startswith("created 3 days ago")


def test_a_rotate_after_days_below_one_is_a_typed_error():
    """Bad input is refused, not read as 'warn always'."""
    with pytest.raises(ValueError):
        key_hygiene(rights(NOW), NOW, 0)


def test_the_weekly_alert_is_due_when_never_sent_or_a_week_after_the_last():
    """Due at first, not within the week, due again at seven days."""
    assert weekly_due(None, NOW)
    assert not weekly_due(NOW - WEEK_MS + 1, NOW)
    assert weekly_due(NOW - WEEK_MS, NOW)


def test_rotate_after_days_is_read_from_the_policy_and_signal_toml_with_bounds():
    """[keys] rotate_after_days: default 90 in both files, a value read, 0 a typed error naming the key."""
    from common.config import ConfigError
    from signal_bot.config_file import parse_config
    from tests.support.treasury_core import policy_text
    from treasury_bot.policy_file import PolicyError, parse_policy
    assert parse_policy(policy_text()).keys.rotate_after_days == 90
    assert parse_policy(policy_text() + "\n[keys]\nrotate_after_days = 30\n").keys.rotate_after_days == 30
    with pytest.raises(PolicyError, match="keys.rotate_after_days"):
        parse_policy(policy_text() + "\n[keys]\nrotate_after_days = 0\n")
    signal = '[risk]\nsymbols = ["BTCUSDT"]\nmax_quote_per_order = "100"\nmax_orders_per_minute = 10\n'
    assert parse_config(signal).keys.rotate_after_days == 90
    assert parse_config(signal + "\n[keys]\nrotate_after_days = 45\n").keys.rotate_after_days == 45
    with pytest.raises(ConfigError, match="keys.rotate_after_days"):
        parse_config(signal + "\n[keys]\nrotate_after_days = 0\n")
