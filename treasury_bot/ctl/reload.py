"""`treasuryctl reload`: send SIGHUP to the running treasury (issue 16 item 1).

The pid comes from the pid file the treasury writes beside its ledger when it is ready
(`<TREASURY_LEDGER_PATH>.pid`, treasury_bot/reload.py). Under supervisord,
`supervisorctl signal HUP treasury-bot` does the same; under systemd, `systemctl reload
treasury-bot` (ExecReload). What the reload did is in the treasury's log (`reload_done`,
per part: unchanged, reloaded, refused) and a refused part is mailed CRITICAL.
"""

from __future__ import annotations

import os
import signal

from common.config import ConfigError, load_treasury_settings
from treasury_bot.reload import pid_file_for


def read_pid(path) -> int:
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        raise ConfigError(f"no pid file {path}: is the treasury running (it writes it when ready)?") from None
    if not text.isdigit() or int(text) <= 1:
        raise ConfigError(f"{path}: not a pid")
    return int(text)


def cmd_reload(args) -> int:
    settings = load_treasury_settings(args.env_file)
    path = pid_file_for(settings.ledger_path)
    pid = read_pid(path)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise ConfigError(f"{path}: no process {pid} (a stale pid file: the treasury is not running)") from None
    except PermissionError:
        raise ConfigError(f"process {pid} is not yours: run treasuryctl as the treasury's user") from None
    print(f"reload requested (SIGHUP to pid {pid}); the treasury logs reload_done with what it did")
    return 0
