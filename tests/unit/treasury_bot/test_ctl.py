"""`treasuryctl`'s pure parts: --since forms, the help, where --env-file may stand (each
command against a real ledger, policy and env file is in tests/integration/treasury_bot/test_ctl.py)."""

from __future__ import annotations

import logging

import pytest

from common import logs
from tests.support.treasury import HOT_ADDRESS
from treasury_bot import ctl
from treasury_bot.ctl.text import parse_since


@pytest.fixture(autouse=True)
def restore_logging():
    """ctl.main sets logging up for the process: put pytest's handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logs.flush_logs()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("text, expected", [
    ("30m", 1_000_000 - 30 * 60_000), ("2h", 1_000_000 - 7_200_000), ("1d", 1_000_000 - 86_400_000),
    ("45s", 1_000_000 - 45_000), ("12345", 12345), ("1970-01-01T00:00:01", 1000),
    ("1970-01-01T01:00:00+01:00", 0),
])
def test_parse_since_forms(text, expected):
    """Durations back from now, milliseconds, or ISO times (UTC unless a zone is given)."""
    assert parse_since(text, 1_000_000) == expected


def test_the_help_lists_every_command(capsys):
    """--help names each command DESIGN lists."""
    with pytest.raises(SystemExit) as caught:
        ctl.main(["--help"])
    out = capsys.readouterr().out
    assert caught.value.code == 0
    for command in ("keys", "check", "status", "list", "show", "approve", "reject", "resolve", "alerts"):
        assert command in out
    assert HOT_ADDRESS not in out


def test_env_file_is_accepted_before_or_after_the_command(capsys):
    """`treasuryctl --env-file F status` and `treasuryctl status --env-file F` read the same file."""
    from treasury_bot import ctl
    assert ctl.main(["--env-file", "/nonexistent-before", "status"]) == 2
    assert "/nonexistent-before" in capsys.readouterr().err
    assert ctl.main(["status", "--env-file", "/nonexistent-after"]) == 2
    assert "/nonexistent-after" in capsys.readouterr().err


def test_wallet_lines_read_each_coin_and_wallet_once_and_say_which_labels_it_pays():
    """One line per (coin, wallet): its free balance, its labels; an empty one says -4026;
    an unreadable one is a FAIL line, the others still shown."""
    from decimal import Decimal

    import msgspec

    from common.binance import ExchangeUnavailable
    from tests.support.treasury import policy
    from treasury_bot.ctl.destinations import wallet_lines
    base = policy()
    two = msgspec.structs.replace(base, destinations=tuple(
        msgspec.structs.replace(d, wallet="funding") if d.label == "hot-wallet" else d for d in base.destinations))
    reads: list[tuple[str, str]] = []

    def free(coin: str, wallet: str) -> Decimal:
        reads.append((coin, wallet))
        return Decimal("0") if wallet == "funding" else Decimal("1500")
    lines = wallet_lines(free, two)
    assert reads == [("USDT", "funding"), ("USDT", "spot")]
    assert lines == [(True, "wallet funding", "USDT free 0 pays hot-wallet; empty: withdrawals from it are "
                                              "refused (-4026) until it is funded"),
                     (True, "wallet spot", "USDT free 1500 pays cold-wallet")]

    def down(coin: str, wallet: str) -> Decimal:
        if wallet == "funding":
            raise ExchangeUnavailable("connect timeout")
        return Decimal(7)
    failing = wallet_lines(down, two)
    assert failing[0][0] is False and "cannot read the funding wallet's USDT" in failing[0][2]
    assert failing[1] == (True, "wallet spot", "USDT free 7 pays cold-wallet")
