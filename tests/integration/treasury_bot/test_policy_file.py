"""Tests for treasury_bot/policy_file.py: the treasury's TOML policy, parsed and validated strictly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from treasury_bot.policy_file import LoadedPolicy, PolicyError, load_policy, parse_policy


# DESIGN section 3's example, verbatim.
DESIGN_EXAMPLE = '''\
quarantine_hours = 24            # 0 only for demos and tests
allow_trading_key = false        # true: start even if the key can trade (warned)
allow_unrestricted_ip = false    # true: start even if the key has no IP restriction (warned)

[limits]
window_hours = 24
max_transfers_per_hour = 20
max_intent_age_seconds = 300
min_seconds_between_withdrawals = 1
poll_interval_seconds = 15
stuck_after_minutes = 60

[limits.coins.USDT]
max_per_transfer = "1000"
window_cap = "5000"
approval_above = "2500"          # optional

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "TXYZ..."
tag = "12345"                    # optional memo
max_per_transfer = "500"         # optional, tighter than the coin's
window_cap = "2000"              # optional
clients = ["signal"]             # optional: client certificate names allowed
'''

# A fuller file: two coins, two destinations, the optional [executor] table.
FULL = '''\
quarantine_hours = 0.5
allow_trading_key = true
allow_unrestricted_ip = false

[limits]
window_hours = 12
max_transfers_per_hour = 5
max_intent_age_seconds = 120
min_seconds_between_withdrawals = 0.25
poll_interval_seconds = 6
stuck_after_minutes = 30

[limits.coins.USDT]
max_per_transfer = "1000.50"
window_cap = "5000"

[limits.coins.BTC]
max_per_transfer = "0.5"
window_cap = "1.000000000000000001"
approval_above = "0.1"

[executor]
reconcile_grace_seconds = 90
reconcile_deadline_minutes = 45

[[destination]]
label = "cold-wallet"
coin = "USDT"
network = "TRX"
address = "TQ5NbRmLKdSCzxRBZWmQqF3PBRGY2cmQpz"
tag = "12345"
clients = ["signal", "signal-2.backup"]

[[destination]]
label = "btc.vault_1"
coin = "BTC"
network = "BTC"
address = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
'''

# The smallest valid file: everything optional left out.


def mutated(old: str, new: str, base: str = DESIGN_EXAMPLE) -> str:
    assert old in base, f"test setup: {old!r} is not in the base file"
    return base.replace(old, new, 1)


# --- valid files ------------------------------------------------------------------


# --- invalid files: every message names the file and the key ------------------------


# --- load_policy ----------------------------------------------------------------------

def test_load_policy_returns_policy_hash_and_path(tmp_path: Path):
    """load_policy gives the policy, the sha256 of the exact bytes, and the path."""
    path = tmp_path / "treasury.toml"
    path.write_bytes(FULL.encode())
    loaded = load_policy(path)
    assert isinstance(loaded, LoadedPolicy)
    assert loaded.policy == parse_policy(FULL)
    assert loaded.sha256 == hashlib.sha256(FULL.encode()).hexdigest()
    assert loaded.path == path


def test_load_policy_hash_changes_with_any_byte(tmp_path: Path):
    """A change that does not change the meaning (a comment) still changes the hash: it is alerted."""
    path = tmp_path / "treasury.toml"
    path.write_text(FULL)
    first = load_policy(str(path)).sha256
    path.write_text(FULL + "# edited\n")
    assert load_policy(str(path)).sha256 != first


def test_load_policy_missing_file_names_the_path(tmp_path: Path):
    """A file that is not there is a PolicyError naming its path."""
    path = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: cannot read the policy file: ")


def test_load_policy_directory_names_the_path(tmp_path: Path):
    """A directory in place of the file is a PolicyError naming the path."""
    with pytest.raises(PolicyError, match="cannot read the policy file") as caught:
        load_policy(tmp_path)
    assert str(caught.value).startswith(str(tmp_path))


def test_load_policy_refuses_non_utf8(tmp_path: Path):
    """TOML is UTF-8; other bytes are a PolicyError naming the path and the offset."""
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'quarantine_hours = 1 # caf\xe9\n')
    with pytest.raises(PolicyError, match=r"latin1\.toml: not UTF-8 text \(bad byte at offset 26\)"):
        load_policy(path)


def test_load_policy_invalid_content_names_the_path_and_key(tmp_path: Path):
    """Validation errors from a file carry that file's path, then the key."""
    path = tmp_path / "bad.toml"
    path.write_text(mutated("poll_interval_seconds = 15", "poll_interval_seconds = 1"))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: limits.poll_interval_seconds: must be >= 6, got 1")


# --- properties -----------------------------------------------------------------------


# --- issue 10 defects 6 and 8: the client budget, the disk floor, the rules' age -----------
