"""The signal bot's reload on SIGHUP (issue 16 item 1; docs/design.md section 9, "The reload rule").

SIGHUP (`supervisorctl signal HUP signal-bot`, systemd's `ExecReload`) sets an event; the
main loop re-reads the env file's SIGNAL_WEBHOOK_SECRET and the config file (signal.toml),
and applies them between requests: the webhook's secret, feed profile and source
allow-list (each request reads them once, at its start), and the risk limits the order desk
checks (one assignment: a signal being handled finishes under the limits it read).
Anything invalid keeps everything as it runs (logged CRITICAL `reload_refused`). A config
naming a symbol the start did not audit is refused: its exchange rules need a restart.
Not reloaded (a restart): the exchange key, endpoints, the treasury's CURVE files, [sweep],
[exits], [treasury].
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from common.config import ConfigError, load_signal_settings
from common.logs import get_logger
from signal_bot import bootstrap
from signal_bot.config_file import SignalConfig, load_config

log = get_logger("signal.reload")


def unaudited_symbols(config: SignalConfig, audited: set[str]) -> list[str]:
    """Symbols the new config allows whose rules the start did not load (pure)."""
    return sorted(set(config.risk.symbols) - audited)


@dataclass
class SignalReloader:
    settings: Any
    server: Any            # WebhookServer
    desk: Any              # OrderDesk
    audited: set[str]
    requested: threading.Event = field(default_factory=threading.Event)
    reloads: int = 0

    def request(self) -> None:
        self.requested.set()

    def between_waits(self) -> None:
        if self.requested.is_set():
            self.requested.clear()
            self.run_once()

    def run_once(self) -> str:
        try:
            fresh = load_signal_settings(self.settings.env_path,
                                         environ={k: v for k, v in os.environ.items() if not k.startswith("SIGNAL_")})
            config = load_config(fresh.config_file)
            missing = unaudited_symbols(config, self.audited)
            if missing:
                raise ConfigError(f"{fresh.config_file}: [risk] symbols {', '.join(missing)} were not "
                                  "audited at start: restart to add a symbol")
            profile, access, limits = config.feed.profile_rules(), config.access.rules(), bootstrap.limits(config)
        except (ConfigError, ValueError) as exc:
            log.critical("reload_refused", detail=str(exc))
            return f"refused: {exc}"
        secret_changed = fresh.webhook_secret != self.server.secret
        self.server.secret = fresh.webhook_secret
        self.server.profile = profile
        self.server.access = access
        self.desk.replace_limits(limits)
        self.reloads += 1
        log.info("reload_done", webhook_secret="rotated" if secret_changed else "unchanged",
                 symbols=",".join(config.risk.symbols), reloads=self.reloads)
        return "reloaded"
