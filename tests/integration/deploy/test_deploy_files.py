"""deploy/ and supervisord.conf: the examples load with the bots' own loaders, the
supervisord configs carry every setting the design asks of a supervised bot."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from common.config import load_signal_settings, load_treasury_settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
DESIGN_TREASURY_VARS = ("BINANCE_BASE_URL", "TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_POLICY_FILE",
                        "TREASURY_LEDGER_PATH", "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT",
                        "TREASURY_CURVE_SECRET_FILE", "TREASURY_AUTHORIZED_CLIENTS_DIR", "SMTP_HOST", "SMTP_PORT",
                        "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO",
                        "LOG_LEVEL", "LOG_FORMAT", "TREASURY_METRICS_BIND")
DESIGN_SIGNAL_VARS = ("BINANCE_BASE_URL", "SIGNAL_API_KEY", "SIGNAL_API_SECRET", "SIGNAL_WEBHOOK_BIND",
                      "SIGNAL_WEBHOOK_SECRET", "SIGNAL_CURVE_SECRET_FILE", "TREASURY_CURVE_PUBLIC_FILE",
                      "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT", "SIGNAL_CONFIG_FILE",
                      "SIGNAL_STATE_PATH", "LOG_LEVEL", "LOG_FORMAT", "SIGNAL_METRICS_BIND")


def set_variables(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z_]+)=", path.read_text(), re.MULTILINE))


def test_the_example_env_files_load_and_name_every_design_variable(tmp_path):
    """Each bot's loader accepts its example; every DESIGN 7a variable is there, and no cross-over."""
    treasury_env = tmp_path / "treasury.env"
    signal_env = tmp_path / "signal.env"
    shutil.copy(DEPLOY / "treasury.env.example", treasury_env)
    shutil.copy(DEPLOY / "signal.env.example", signal_env)
    treasury_env.chmod(0o600)
    signal_env.chmod(0o600)
    treasury = load_treasury_settings(treasury_env, environ={})
    signal = load_signal_settings(signal_env, environ={})
    assert treasury.base_url == signal.base_url == "https://api.binance.com"
    assert treasury.smtp is not None and treasury.smtp.security == "starttls"
    assert signal.leaked_treasury_names == ()
    assert set(DESIGN_TREASURY_VARS) <= set_variables(DEPLOY / "treasury.env.example")
    assert set(DESIGN_SIGNAL_VARS) <= set_variables(DEPLOY / "signal.env.example")
    assert not {"TREASURY_API_KEY", "TREASURY_API_SECRET", "TREASURY_CURVE_SECRET_FILE"} & set_variables(
        DEPLOY / "signal.env.example")
