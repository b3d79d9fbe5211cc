"""The treasury refuses to start, with one clear line, on every setup DESIGN forbids."""

from __future__ import annotations

import pytest

from tests.support.sandbox import DEMO_READER, DEMO_SIGNAL
from tests.support.treasury_proc import E2E_POLICY, TreasuryProcess, e2e_policy

pytestmark = pytest.mark.e2e

EXIT_CONFIG, EXIT_AUDIT = 2, 3


def refused(process: TreasuryProcess, code: int) -> str:
    process.start(wait_ready=False)
    assert process.proc.wait_exit(30) == code, process.log()[-3000:]
    return process.log()


def test_an_invalid_policy_file_stops_the_start_naming_the_key(tmp_path, sandbox):
    """A float amount in the policy: exit 2 and the log names limits.coins.USDT.window_cap."""
    bad = E2E_POLICY.replace('window_cap = "100000"', "window_cap = 100000.0")
    log = refused(TreasuryProcess(tmp_path, sandbox, policy_text=bad), EXIT_CONFIG)
    assert "start_refused" in log and "limits.coins.USDT.window_cap" in log


def test_an_empty_allow_list_stops_the_start(tmp_path, sandbox):
    """CURVE is always on: no authorised client certificate means no start."""
    process = TreasuryProcess(tmp_path, sandbox)
    for certificate in process.curve.clients_dir.glob("*.key"):
        certificate.unlink()
    log = refused(process, EXIT_CONFIG)
    assert "holds no NAME.key certificate" in log


def test_a_missing_curve_secret_file_stops_the_start(tmp_path, sandbox):
    """Without its own secret key file the treasury does not bind at all."""
    process = TreasuryProcess(tmp_path, sandbox)
    process.curve.treasury_secret.unlink()
    log = refused(process, EXIT_CONFIG)
    assert "TREASURY_CURVE_SECRET_FILE" in log


def test_a_key_that_cannot_withdraw_stops_the_start(tmp_path, sandbox):
    """The read-only key passes authentication but has no withdraw right: exit 3."""
    process = TreasuryProcess(tmp_path, sandbox, api_key=DEMO_READER.api_key,
                              api_secret=DEMO_READER.api_secret)
    log = refused(process, EXIT_AUDIT)
    assert "no withdraw permission" in log


def test_a_trading_key_without_ip_restriction_stops_the_start(tmp_path, sandbox):
    """The signal bot's key can trade and is not IP-restricted: refused on both counts."""
    process = TreasuryProcess(tmp_path, sandbox, api_key=DEMO_SIGNAL.api_key,
                              api_secret=DEMO_SIGNAL.api_secret)
    log = refused(process, EXIT_AUDIT)
    assert "refusing to start" in log


def test_allow_unrestricted_ip_starts_with_a_warning(tmp_path, sandbox):
    """The operator's override is honoured, loudly: a warning at start, then it serves."""
    sandbox.set_key("treasury", ip_restrict=False)
    process = TreasuryProcess(tmp_path, sandbox, policy_text=e2e_policy(allow_unrestricted_ip=True)).start()
    try:
        assert "no IP restriction" in process.log() and "started anyway" in process.log()
    finally:
        assert process.terminate() == 0
