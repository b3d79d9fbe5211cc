"""Fixtures for end-to-end tests (real processes). Each suite adds its own here."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.sandbox import Sandbox, sandbox_process


@pytest.fixture
def sandbox(tmp_path) -> Iterator[Sandbox]:
    """A real `sandbox-exchange` with demo.toml, a state file and quick withdrawals (0.5 s)."""
    with sandbox_process(tmp_path, complete_after_seconds=0.5) as running:
        yield running
