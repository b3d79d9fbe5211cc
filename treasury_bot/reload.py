"""Reload on SIGHUP (issue 16 item 1; docs/design.md section 9, "The reload rule").

SIGHUP (sent by `treasuryctl reload`, `supervisorctl signal HUP treasury-bot` or systemd's
`ExecReload`) only sets an event; the reload itself runs on the main thread between two
batches of the intent server (so no batch is decided half on one policy, half on another,
and no request in flight is lost). Three parts, each kept as it runs when its new value is
refused (a CRITICAL `reload_refused` mail, or `key_audit_failed` for the key):

1. the CURVE allow-list: the ZAP handler is reconfigured (a new client may connect) and the
   server's key -> name map replaced (a removed client's next request, even on a connection
   open from before, is dropped unanswered: `request_from_unknown_key`);
2. the policy file: loaded and checked as at start (tags against the cached coin rules);
   resolved against the policy in force with the loosening rule (tightening now, loosening
   after its quarantine), recorded and journaled like a start's, then swapped into the one
   LivePolicy every thread reads (treasury_bot/policy_in_force.py); the policy-file breaker
   adopts the reloaded bytes' hash;
3. the env file's exchange key: a different key is self-audited (treasury_bot/audit.py)
   before any other use; passed, every exchange client signs with it from its next request
   (treasury_bot/key_ring.py; an apply in progress finishes with the key it started with).

Nothing else in the env file is reloaded (endpoints, paths: a restart).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from common.binance import BinanceClient, ExchangeError
from common.config import ConfigError, load_treasury_settings
from common.config.fields import ApiCredentials
from common.curve import load_authorized_clients
from common.logs import get_logger, mask_key
from treasury_bot import key_ring
from treasury_bot.alerts import raised
from treasury_bot.audit import audit_key
from treasury_bot.breakers import PolicyFileWatch, file_sha256
from treasury_bot.ledger import Ledger
from treasury_bot.loosening import describe
from treasury_bot.policy_file import LoadedPolicy, PolicyError, load_policy_for
from treasury_bot.policy_in_force import LivePolicy, record, resolve_from_ledger
from treasury_bot.quarantine import Seen, observe
from treasury_bot.tag_rules import check_tags, refusal as tag_refusal

log = get_logger("treasury.reload")

CLIENTS, POLICY, EXCHANGE_KEY = "clients", "policy", "exchange_key"


# -- pure --------------------------------------------------------------------------------

def client_changes(old: dict[bytes, str], new: dict[bytes, str]) -> tuple[list[str], list[str]]:
    """(added, removed) client names between two allow-lists (pure)."""
    added = sorted(name for key, name in new.items() if key not in old)
    removed = sorted(name for key, name in old.items() if key not in new)
    return added, removed


def key_rotation(old: ApiCredentials, new: ApiCredentials) -> bool:
    """Whether the env file names another key or signer than the one in use (pure)."""
    return old.key != new.key or old.secret != new.secret


def pid_file_for(ledger_path: Path) -> Path:
    """Where the running treasury writes its pid (read by `treasuryctl reload`)."""
    return Path(f"{ledger_path}.pid")


@dataclass(frozen=True)
class Outcome:
    """What one reload did, per part: 'unchanged', 'reloaded' or 'refused: ...'."""

    clients: str
    policy: str
    exchange_key: str


# -- the reloader --------------------------------------------------------------------------

@dataclass
class Reloader:
    settings: object                      # TreasurySettings at start
    ledger: Ledger                        # the main thread's connection
    clock: object
    loaded: LoadedPolicy
    live: LivePolicy
    watch: PolicyFileWatch
    server: object                        # IntentServer: its `clients` map
    auth: object                          # Authenticator
    rules: Callable[[], object]           # the cached coin rules
    credentials: ApiCredentials = None    # type: ignore[assignment]
    requested: threading.Event = field(default_factory=threading.Event)
    reloads: int = 0

    def __post_init__(self) -> None:
        if self.credentials is None:
            self.credentials = self.settings.credentials

    def request(self) -> None:
        """The SIGHUP handler's whole work (async-signal safe enough: one Event.set)."""
        self.requested.set()

    def between_batches(self) -> None:
        if self.requested.is_set():
            self.requested.clear()
            self.run_once()

    def run_once(self) -> Outcome:
        log.info("reload_started")
        outcome = Outcome(self._clients(), self._policy(), self._key())
        self.reloads += 1
        log.info("reload_done", clients=outcome.clients, policy=outcome.policy,
                 exchange_key=outcome.exchange_key, reloads=self.reloads)
        return outcome

    def _refuse(self, part: str, detail: str) -> str:
        if part == POLICY:
            # Refused, and said CRITICAL: the file's bytes are adopted by the policy-file
            # breaker (they were seen and refused, not slipped in); the running policy stays,
            # and a later edit left unreloaded still trips.
            self.watch.adopt(file_sha256(Path(self.settings.policy_file)) or "missing")
        log.critical("reload_refused", part=part, detail=detail)
        try:
            with self.ledger.transaction():
                self.ledger.enqueue(raised.reload_refused(part, detail, self.clock.now_ms()))
        except Exception:
            log.error("alert_not_recorded", exc_info=True)
        return f"refused: {detail}"

    # 1. the CURVE allow-list
    def _clients(self) -> str:
        folder = self.settings.authorized_clients_dir
        try:
            new = load_authorized_clients(folder)
        except ConfigError as exc:
            return self._refuse(CLIENTS, str(exc))
        added, removed = client_changes(self.server.clients, new)
        if not added and not removed:
            return "unchanged"
        self.auth.reconfigure()            # the ZAP handler reads the folder again
        self.server.clients = new          # the next request of a removed key is dropped
        log.info("clients_reloaded", added=",".join(added), removed=",".join(removed))
        return f"reloaded (added {','.join(added) or '-'}; removed {','.join(removed) or '-'})"

    # 2. the policy file
    def _policy(self) -> str:
        try:
            new = load_policy_for(self.settings.policy_file, self.settings.base_url)
        except PolicyError as exc:
            return self._refuse(POLICY, str(exc))
        if new.sha256 == self.loaded.sha256:
            self.watch.adopt(new.sha256)
            return "unchanged"
        tags = check_tags(new.policy, self.rules())
        if tags:
            return self._refuse(POLICY, tag_refusal(str(new.path), tags))
        now = self.clock.now_ms()
        with self.ledger.transaction():
            resolution = resolve_from_ledger(self.ledger, new.policy, now)
            record(self.ledger, resolution, now)
            known = {label: Seen(*row) for label, row in self.ledger.destinations_seen().items()}
            for item in observe(new.policy, known, now):
                if item.change:
                    s = item.seen
                    self.ledger.upsert_destination_seen(item.label, s.coin, s.network, s.address, s.tag,
                                                        s.first_seen_at, s.changed_at)
            self.ledger.record_policy_start(new.sha256, str(new.path), now)
            pending = [describe(p) for p in resolution.pending]
            self.ledger.enqueue(raised.policy_changed(self.loaded.sha256, new.sha256, str(new.path), now,
                                                      pending_loosenings=pending))
        self.live.swap(new.policy, resolution)
        if hasattr(self.server, "policy_changed"):
            self.server.policy_changed()  # its window, budgets and disk floor from the new policy
        self.watch.adopt(new.sha256)
        self.loaded = new
        log.info("policy_reloaded", sha256=new.sha256[:12], pending_loosenings=len(pending))
        return f"reloaded (sha256 {new.sha256[:12]}, {len(pending)} pending loosening(s))"

    # 3. the exchange key
    def _key(self) -> str:
        try:
            fresh = load_treasury_settings(self.settings.env_path, environ=_without_treasury_env())
        except ConfigError as exc:
            return self._refuse(EXCHANGE_KEY, f"env file: {exc}")
        if not key_rotation(self.credentials, fresh.credentials):
            return "unchanged"
        new = fresh.credentials
        client = BinanceClient(self.settings.base_url, new.key, new.secret, clock=self.clock)
        current = self.live.at(self.clock.now_ms())
        try:
            client.sync_time()
            findings = audit_key(client.api_restrictions(), client.account(), current.effective,
                                 {p.setting: p.effective_at for p in current.pending})
        except ExchangeError as exc:
            findings = None
            problems = [f"the new key {mask_key(new.key)} could not be audited: {exc}"]
        finally:
            client.close()
        if findings is not None:
            problems = [f.detail for f in findings if f.fatal]
        if problems:
            log.critical("key_rotation_refused", api_key=mask_key(new.key), problems="; ".join(problems))
            with self.ledger.transaction():
                self.ledger.enqueue(raised.key_audit_failed(
                    [f"reload: the new key failed the self-audit, the old key is kept: {problems[0]}",
                     *problems[1:]], new.key, self.clock.now_ms()))
            return "refused: " + "; ".join(problems)
        moved = key_ring.rotate(self.settings.ledger_path, new)
        log.warning("exchange_key_rotated", old_key=mask_key(self.credentials.key), new_key=mask_key(new.key),
                    clients=moved)
        self.credentials = new
        return f"reloaded (key {mask_key(new.key)})"


def _without_treasury_env() -> dict[str, str]:
    """The process environment without TREASURY_* values: the env FILE is what a reload reads
    (a value exported at start would otherwise shadow the file's new key)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TREASURY_")}


# -- the pid file and the breaker's grace ------------------------------------------------

EDIT_GRACE_S = 60.0          # an edited policy file waits this long for its reload, then trips
SANDBOX_EDIT_GRACE_S = 3.0   # against the sandbox (TREASURY_SANDBOX_POLL_SECONDS set): tests


def edit_grace_s(settings) -> float:
    return SANDBOX_EDIT_GRACE_S if settings.sandbox_poll_seconds is not None else EDIT_GRACE_S


def write_pid_file(ledger_path: Path) -> Path:
    path = pid_file_for(ledger_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n", encoding="ascii")
    os.replace(tmp, path)
    return path


def remove_pid_file(ledger_path: Path) -> None:
    path = pid_file_for(ledger_path)
    try:
        if path.read_text(encoding="ascii").strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass
