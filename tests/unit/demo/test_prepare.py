"""demo/prepare.py: var/ is generated once, kept on a re-run, and follows a port change."""

from __future__ import annotations

import pytest

from demo.prepare import (DEFAULT_PORTS, DemoConfigError, DemoPorts)


def test_ports_come_from_the_environment_with_defaults_and_are_checked():
    """Defaults, overrides, and clear errors naming the variable."""
    assert DemoPorts.from_environ({}).named() == dict(DEFAULT_PORTS)
    assert DemoPorts.from_environ({"DEMO_WEBHOOK_PORT": "9999"}).webhook == 9999
    with pytest.raises(DemoConfigError, match="DEMO_SMTP_PORT"):
        DemoPorts.from_environ({"DEMO_SMTP_PORT": "smtp"})
    with pytest.raises(DemoConfigError, match="DEMO_SANDBOX_PORT"):
        DemoPorts.from_environ({"DEMO_SANDBOX_PORT": "70000"})
    with pytest.raises(DemoConfigError, match="must all differ"):
        DemoPorts.from_environ({"DEMO_SANDBOX_PORT": "7701"})
