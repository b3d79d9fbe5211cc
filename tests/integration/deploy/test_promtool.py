"""Issue 14: the alert rules and the scrape config pass `promtool check` where promtool is
installed; elsewhere the test is skipped, saying so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROMETHEUS = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH: the alert rules are not "
                                    "checked by Prometheus' own tool here (tests/unit/deploy checks their shape)")


@needs_promtool
def test_promtool_accepts_the_alert_rules():
    """`promtool check rules deploy/prometheus/alerts.yml` exits 0."""
    done = subprocess.run([PROMTOOL, "check", "rules", str(PROMETHEUS / "alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_accepts_the_scrape_config():
    """`promtool check config deploy/prometheus/prometheus.yml` exits 0 (it reads alerts.yml too)."""
    done = subprocess.run([PROMTOOL, "check", "config", str(PROMETHEUS / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
