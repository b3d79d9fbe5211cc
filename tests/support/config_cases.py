"""What tests/unit/common/test_config.py and tests/integration/common/test_config.py share:
SECRET, KEY, TREASURY_ENV, env_file, treasury."""

from __future__ import annotations

import os
from pathlib import Path

from common.config import load_treasury_settings

SECRET = "treasury-secret-value-not-real-0123456789"

KEY = "treasuryKEYnotreal00000000000000000000WXYZ"

TREASURY_ENV = f"""
BINANCE_BASE_URL=http://127.0.0.1:9000
TREASURY_API_KEY={KEY}
TREASURY_API_SECRET={SECRET}
TREASURY_POLICY_FILE=treasury.toml
TREASURY_LEDGER_PATH=data/ledger.sqlite
TREASURY_CURVE_SECRET_FILE=keys/treasury.key_secret
TREASURY_AUTHORIZED_CLIENTS_DIR=/abs/clients
"""


def env_file(folder: Path, text: str, name: str = "bot.env", mode: int = 0o600) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def treasury(tmp_path: Path, extra: str = "", environ: dict | None = None, drop: tuple = ()):
    lines = [line for line in TREASURY_ENV.splitlines() if not line.startswith(drop or ("\0",))]
    return load_treasury_settings(env_file(tmp_path / "conf", "\n".join(lines) + extra),
                                  environ=environ or {})
