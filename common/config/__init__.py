"""Each bot's settings from its own env file (python-dotenv), overridable by the real environment.

Each bot loads only its own file: the treasury `load_treasury_settings(treasury.env)`, the
signal bot `load_signal_settings(signal.env)`; neither module reads the other's variables.
One job per module:

- `env`                 reading one env file with the real environment over it (`Env`,
                        `load_env`) and `ConfigError`, whose message names the variable;
- `fields`              what both bots parse alike: `BINANCE_BASE_URL` (https unless
                        loopback), the treasury's endpoints, API key and secret;
- `smtp`                the alert mail server (`SMTP_*`, `ALERT_EMAIL_*`);
- `treasury_settings`   `TreasurySettings` from treasury.env;
- `signal_settings`     `SignalSettings` from signal.env (and the treasury secrets it
                        must not hold).

Everything is re-exported here, so `from common.config import X` names what it always did.
"""

from common.config.env import ConfigError, Env, load_env
from common.config.fields import (DEFAULT_BASE_URL, DEFAULT_EVENT_ENDPOINT, DEFAULT_INTENT_ENDPOINT,
                                  ApiCredentials, check_base_url, check_endpoint,
                                  endpoint_is_loopback, is_loopback_host, load_credentials)
from common.config.signal_settings import (TREASURY_SECRET_NAMES, SignalSettings,
                                           load_signal_settings, parse_bind)
from common.config.smtp import SmtpSettings, load_smtp
from common.config.treasury_settings import (MAX_TEST_CLOCK_OFFSET_MS, TreasurySettings,
                                             load_treasury_settings)

__all__ = [
    "DEFAULT_BASE_URL", "DEFAULT_EVENT_ENDPOINT", "DEFAULT_INTENT_ENDPOINT", "MAX_TEST_CLOCK_OFFSET_MS",
    "TREASURY_SECRET_NAMES", "ApiCredentials", "ConfigError", "Env", "SignalSettings", "SmtpSettings",
    "TreasurySettings", "check_base_url", "check_endpoint", "endpoint_is_loopback", "is_loopback_host",
    "load_credentials", "load_env", "load_signal_settings", "load_smtp", "load_treasury_settings",
    "parse_bind",
]
