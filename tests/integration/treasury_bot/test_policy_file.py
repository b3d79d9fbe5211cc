"""Tests for treasury_bot/policy_file.py: the treasury's TOML policy, parsed and validated strictly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from treasury_bot.policy_file import LoadedPolicy, PolicyError, load_policy, parse_policy
from tests.support.policy_file_cases import FULL, mutated


# The smallest valid file: everything optional left out.


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
