"""Reading one env file (python-dotenv), with the real environment over it; `ConfigError`.

An env file is read with `dotenv_values`, which never touches `os.environ`, so a bot
sees only its own file. Relative paths in a file are taken from that file's folder.
Every problem is a `ConfigError` whose one-line message names the variable.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from dotenv import dotenv_values


class ConfigError(Exception):
    """A missing or bad setting; the message names the variable and never its secret value."""

    code = "config_invalid"


@dataclass(frozen=True)
class Env:
    """The merged variables of one env file and the real environment."""

    path: Path | None
    values: Mapping[str, str]
    from_file: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            where = f" (env file {self.path})" if self.path else ""
            raise ConfigError(f"{name} is not set{where}")
        return value

    def path_of(self, name: str, default: str | None = None) -> Path | None:
        value = self.get(name, default)
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            base = self.folder if (name in self.from_file or name not in self.values) else Path.cwd()
            path = base / path
        return path

    def require_path(self, name: str, default: str | None = None) -> Path:
        path = self.path_of(name, default)
        if path is None:
            raise ConfigError(f"{name} is not set")
        return path


def load_env(path: str | os.PathLike | None, *, prefixes: tuple[str, ...] = (),
             environ: Mapping[str, str] | None = None) -> Env:
    """Read one env file, then let the real environment override it.

    Only variables named in the file, or starting with one of `prefixes`, or in
    `_COMMON_NAMES` are taken from the real environment, so that a bot does not pick up
    another bot's variables by accident.
    """
    environ = os.environ if environ is None else environ
    file_values: dict[str, str] = {}
    warnings: list[str] = []
    env_path: Path | None = None
    if path is not None:
        env_path = Path(path).expanduser().resolve()
        if not env_path.is_file():
            raise ConfigError(f"env file {env_path} does not exist (pass --env-file PATH)")
        mode = stat.S_IMODE(env_path.stat().st_mode)
        if mode & 0o077:
            warnings.append(
                f"env file {env_path} has mode {mode:04o}; it holds secrets and should be 0600"
            )
        try:
            raw = dotenv_values(env_path, interpolate=False)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"env file {env_path} cannot be read: {type(exc).__name__}") from None
        file_values = {k: (v or "") for k, v in raw.items()}
    merged = dict(file_values)
    overridden = set()
    for name, value in environ.items():
        if name in file_values or name in _COMMON_NAMES or name.startswith(prefixes):
            merged[name] = value
            overridden.add(name)
    # Only values that really come from the file are relative to its folder.
    return Env(env_path, merged, frozenset(file_values.keys() - overridden), tuple(warnings))


_COMMON_NAMES = frozenset({
    "BINANCE_BASE_URL", "LOG_LEVEL", "LOG_FORMAT",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD",
    "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO",
    "TREASURY_INTENT_ENDPOINT", "TREASURY_EVENT_ENDPOINT", "TREASURY_CURVE_PUBLIC_FILE",
})
