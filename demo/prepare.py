"""Generate the demo's `var/` folder: CURVE keys, env files (0600), the demo policy, configs.

    files = prepare(root, DemoPorts.from_environ(os.environ))

The files' texts are demo/var_texts.py's; this module writes them, and the keys.

Idempotent, so `make demo` can run any number of times:
- CURVE key pairs are generated once and then kept (deleting one makes a new one, and
  the copies each side holds are refreshed from it);
- every other file is derived from the ports and rewritten only when its content
  differs (a changed port reaches every file that names it; an unchanged run touches
  nothing, so the policy's hash stays the same and no `policy_changed` mail is sent);
- the run-time state (the treasury's ledger, the signal bot's state, the sandbox's
  state file) is never touched here: a second run continues the first one's story.

The layout mirrors the production split: the treasury's files and the signal bot's files
sit apart, and the signal bot gets a *copy* of the treasury's public certificate in a
folder of its own (it refuses to start if the treasury's secret is beside it).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from common.api_key_files import write_ed25519_key_pair
from common.curve import generate
from demo.var_texts import DEMO_POLICY, DEMO_SIGNAL_CONFIG, feeder_env, signal_env, treasury_env
from sandbox.config import default_config_path

# The demo's ports, each overridable by the environment variable that names it.
DEFAULT_PORTS: Mapping[str, int] = {
    "DEMO_SANDBOX_PORT": 7790,   # the sandbox exchange (HTTP)
    "DEMO_SMTP_PORT": 7725,      # the SMTP sink
    "DEMO_WEBHOOK_PORT": 7780,   # the signal bot's webhook
    "DEMO_INTENT_PORT": 7701,    # the treasury's ROUTER (transfer intents)
    "DEMO_EVENT_PORT": 7702,     # the treasury's PUB (withdrawal events)
}

# Variables a bot would take from the real environment over its env file. The demo's
# programs must see only their own files, so supervisord is started without them.
_BOT_PREFIXES = ("TREASURY_", "SIGNAL_", "SMTP_", "ALERT_EMAIL_", "BINANCE_", "SANDBOX_", "FEEDER_")


class DemoConfigError(Exception):
    """A bad DEMO_* setting; the message names the variable."""


@dataclass(frozen=True)
class DemoPorts:
    sandbox: int
    smtp: int
    webhook: int
    intent: int
    event: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "DemoPorts":
        values: dict[str, int] = {}
        for name, default in DEFAULT_PORTS.items():
            text = (environ.get(name) or "").strip()
            if not text:
                values[name] = default
                continue
            try:
                port = int(text)
            except ValueError:
                raise DemoConfigError(f"{name} must be a port number, not {text!r}") from None
            if not 1 <= port <= 65535:
                raise DemoConfigError(f"{name} must be between 1 and 65535, not {port}")
            values[name] = port
        if len(set(values.values())) != len(values):
            raise DemoConfigError("the DEMO_*_PORT variables must all differ: " +
                                  ", ".join(f"{k}={v}" for k, v in values.items()))
        return cls(values["DEMO_SANDBOX_PORT"], values["DEMO_SMTP_PORT"], values["DEMO_WEBHOOK_PORT"],
                   values["DEMO_INTENT_PORT"], values["DEMO_EVENT_PORT"])

    def as_environ(self) -> dict[str, str]:
        return {"DEMO_SANDBOX_PORT": str(self.sandbox), "DEMO_SMTP_PORT": str(self.smtp),
                "DEMO_WEBHOOK_PORT": str(self.webhook), "DEMO_INTENT_PORT": str(self.intent),
                "DEMO_EVENT_PORT": str(self.event)}

    def named(self) -> dict[str, int]:
        return {name: int(value) for name, value in self.as_environ().items()}


@dataclass(frozen=True)
class DemoFiles:
    """Where everything lives under `root` (the folder holding supervisord.conf)."""

    root: Path

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def config(self) -> Path:
        return self.root / "supervisord.conf"

    # supervisord's own files (names fixed by supervisord.conf)
    @property
    def socket(self) -> Path:
        return self.var / "supervisor.sock"

    @property
    def pidfile(self) -> Path:
        return self.var / "supervisord.pid"

    @property
    def supervisord_log(self) -> Path:
        return self.var / "supervisord.log"

    # the treasury's side
    @property
    def treasury_env(self) -> Path:
        return self.var / "treasury.env"

    @property
    def policy(self) -> Path:
        return self.var / "treasury.toml"

    @property
    def ledger(self) -> Path:
        return self.var / "treasury-ledger.sqlite"

    @property
    def treasury_keys(self) -> Path:
        return self.var / "keys" / "treasury"

    @property
    def treasury_api_key(self) -> Path:
        """The treasury's Ed25519 API private key, made as `treasuryctl keys binance` makes it."""
        return self.treasury_keys / "binance-ed25519.pem"

    @property
    def authorized_clients(self) -> Path:
        return self.var / "keys" / "authorized_clients"

    # the signal bot's side
    @property
    def signal_env(self) -> Path:
        return self.var / "signal.env"

    @property
    def signal_config(self) -> Path:
        return self.var / "signal.toml"

    @property
    def signal_state(self) -> Path:
        return self.var / "signal-state.sqlite"

    @property
    def signal_keys(self) -> Path:
        return self.var / "keys" / "signal"

    # the demo's helpers
    @property
    def feeder_env(self) -> Path:
        return self.var / "feeder.env"

    @property
    def sandbox_state(self) -> Path:
        return self.var / "sandbox-state.json"

    @property
    def sandbox_config(self) -> Path:
        """demo.toml with the treasury's key registered as Ed25519 (its public half only)."""
        return self.var / "sandbox.toml"


@dataclass(frozen=True)
class Prepared:
    files: DemoFiles
    actions: tuple[tuple[Path, str], ...]   # (path, "created" | "updated" | "kept")

    @property
    def first_run(self) -> bool:
        return any(path.name == "treasury.key_secret" and action == "created" for path, action in self.actions)


def demo_api_keys() -> dict[str, tuple[str, str]]:
    """name -> (api_key, api_secret) from the sandbox's packaged demo.toml (all fake)."""
    text = default_config_path().read_text(encoding="utf-8")
    return {key["name"]: (key["api_key"], key["api_secret"]) for key in tomllib.loads(text)["key"]}


def prepare(root: Path, ports: DemoPorts) -> Prepared:
    files = DemoFiles(Path(root).resolve())
    files.var.mkdir(parents=True, exist_ok=True)
    actions: list[tuple[Path, str]] = []
    actions += _keys(files)
    public_pem, key_action = _treasury_api_key(files)
    actions.append((files.treasury_api_key, key_action))
    keys = demo_api_keys()
    actions.append(_write(files.sandbox_config, sandbox_config_text(public_pem), 0o644))
    actions.append(_write(files.treasury_env, treasury_env(ports, keys["treasury"][0]), 0o600))
    actions.append(_write(files.policy, DEMO_POLICY, 0o644))
    actions.append(_write(files.signal_env, signal_env(ports, keys["signal"]), 0o600))
    actions.append(_write(files.signal_config, DEMO_SIGNAL_CONFIG, 0o644))
    actions.append(_write(files.feeder_env, feeder_env(ports), 0o600))
    return Prepared(files, tuple(actions))


def _treasury_api_key(files: DemoFiles) -> tuple[str, str]:
    """The treasury's Ed25519 API key pair, made once (issue 12 item 7: Binance's recommended
    type) and kept; returns its public PEM (what a user pastes into Binance) and the action."""
    public_file = files.treasury_api_key.with_name("binance-ed25519.pub.pem")
    if files.treasury_api_key.is_file() and public_file.is_file():
        return public_file.read_text(encoding="ascii"), "kept"
    for stale in (files.treasury_api_key, public_file):
        stale.unlink(missing_ok=True)
    return write_ed25519_key_pair(files.treasury_keys, "binance-ed25519").public_pem, "created"


def sandbox_config_text(treasury_public_pem: str) -> str:
    """The packaged demo.toml, its treasury key registered by its Ed25519 public key instead of
    an HMAC secret: the sandbox then accepts only the treasury's Ed25519 signatures."""
    text = default_config_path().read_text(encoding="utf-8")
    secret = demo_api_keys()["treasury"][1]
    line = f'api_secret = "{secret}"'
    if text.count(line) != 1:
        raise DemoConfigError("sandbox/demo.toml: the treasury key's api_secret line is not found once")
    header = ("# Generated by demo/prepare.py from sandbox/demo.toml: the treasury's key is the\n"
              "# self-generated Ed25519 key of var/keys/treasury/binance-ed25519.pem (public half only).\n")
    return header + text.replace(line, f'ed25519_public_key = """{treasury_public_pem}"""')


def _keys(files: DemoFiles) -> list[tuple[Path, str]]:
    """Each pair once; the public copies each side holds follow their source."""
    actions = []
    for folder, name in ((files.treasury_keys, "treasury"), (files.signal_keys, "signal")):
        public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
        if public.is_file() and secret.is_file():
            actions.append((secret, "kept"))
        else:
            generate(folder, name)
            actions.append((secret, "created"))
        folder.chmod(0o700)
    files.authorized_clients.mkdir(parents=True, exist_ok=True)
    actions.append(_copy(files.signal_keys / "signal.key", files.authorized_clients / "signal.key"))
    # The signal bot's copy of the treasury's PUBLIC certificate, in the signal bot's own folder.
    actions.append(_copy(files.treasury_keys / "treasury.key", files.signal_keys / "treasury.key"))
    return actions


def _copy(source: Path, target: Path) -> tuple[Path, str]:
    return _write(target, source.read_text(encoding="utf-8"), 0o644)


def _write(path: Path, text: str, mode: int) -> tuple[Path, str]:
    """Write `text` only if it differs (atomically, created with `mode`); always fix the mode."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = None
    if current == text:
        path.chmod(mode)
        return path, "kept"
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temp, mode)   # O_CREAT's mode is filtered by the umask
    os.replace(temp, path)
    return path, "created" if current is None else "updated"


def supervisord_environ(ports: DemoPorts, base: Mapping[str, str], bin_dir: Path) -> dict[str, str]:
    """The environment supervisord (and so every program) runs with: the DEMO_* ports,
    the venv's scripts first on PATH, unbuffered Python, and none of the variables a bot
    would take over its own env file."""
    env = {k: v for k, v in base.items() if not k.startswith(_BOT_PREFIXES)}
    env.update(ports.as_environ())
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def remove_stale_supervisor_files(files: DemoFiles) -> list[Path]:
    """A socket or pid file left by a killed supervisord (call only when none is running)."""
    removed = []
    for path in (files.socket, files.pidfile):
        if path.exists() or path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


def main() -> int:
    """`python -m demo.prepare [ROOT]`: generate ROOT/var (default: this checkout) and list it."""
    import sys
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    try:
        prepared = prepare(root, DemoPorts.from_environ(os.environ))
    except DemoConfigError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    for path, action in prepared.actions:
        print(f"{action:<8} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
