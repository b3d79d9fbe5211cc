"""The crash soak (issue 7, item 1): real processes killed with SIGKILL at random moments.

One scenario, shared by tests/chaos/test_crash_soak.py (bounded, in the suite) and
bench/chaos.py (long mode):

- a sandbox exchange, a treasury (`TreasuryProcess`, fast polling) and a signal bot,
  all real processes;
- two intent clients ("signal" and "other") stream transfer intents to the treasury,
  each resent with the same intent_id and content (created_at kept) until decided
  (Lazy Pirate, then again after a TreasuryUnavailable while the treasury is down),
  sometimes replayed, sometimes contradicted with a conflicting content;
- a poster streams signals to the signal bot's webhook, each posted until 202 or the
  bot is down, then re-posted with the same id once it is back (and some ids re-posted
  on purpose after a 202);
- a killer SIGKILLs the treasury at random moments (plain uptime, or while an apply is
  held in flight, applied but unanswered, answered 5XX / dropped, while `processing`),
  restarts it on the same files; another SIGKILLs the signal bot and restarts it.

At the end the sandbox's own records (GET /sandbox/withdrawals, GET /sandbox/orders)
are compared with the ledger and with what the clients were told: see `judge`.
Every random choice comes from `SoakConfig.seed`; process timing is not reproducible.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

import requests

from common import messages
from common.intent_client import TreasuryUnavailable
from demo.policy_text import CoinTable, policy_toml
from tests.chaos.clockbook import (HOUR_MS, MINUTE_MS, ClockBook, true_apply_ms, true_ms,
                                   write_offset_file)
from tests.chaos.limits_judge import Caps, Judged, breaches
from tests.chaos.operators import Action, Freezer, Operator
from tests.support.procs import Proc, script
from tests.support.sandbox import (DEMO_SIGNAL, DEMO_TRX_ADDRESS, DEMO_TRX_FAILING, DEMO_TRX_HOT_ADDRESS,
                                   DEMO_TRX_REJECTING, Sandbox, start_sandbox)
from tests.support.ports import free_port
from tests.support.treasury_proc import E2E_DESTINATIONS, TreasuryProcess
from tests.support.waiting import Timeout, wait_until

APPLY = "/sapi/v1/capital/withdraw/apply"
OPEN_STATUSES = ("queued", "submitting", "submitted", "email_sent", "awaiting_approval", "processing")
FINAL_BY_EXCHANGE = {6: "completed", 5: "failed", 3: "rejected", 1: "cancelled"}
RECV_WINDOW_MARGIN_S = 7.0       # a request signed before a kill cannot land later than this
ADDRESSES = {"cold-wallet": DEMO_TRX_ADDRESS, "hot-wallet": DEMO_TRX_HOT_ADDRESS,
             "failing-wallet": DEMO_TRX_FAILING, "rejecting-wallet": DEMO_TRX_REJECTING}
# Where each client sends, with weights: "hot-wallet" is for "other" only (the "signal"
# client's few tries there are client_not_allowed), "nowhere" is unknown_destination.
DESTINATIONS = {
    "signal": (("cold-wallet", 60), ("failing-wallet", 12), ("rejecting-wallet", 8),
               ("hot-wallet", 12), ("nowhere", 8)),
    "other": (("cold-wallet", 30), ("hot-wallet", 45), ("failing-wallet", 10),
              ("rejecting-wallet", 8), ("nowhere", 7)),
}
SIGNAL_SECRET = "chaos-webhook-secret-not-real-01"
SIGNAL_CONFIG = """
[risk]
symbols = ["BTCUSDT"]
max_quote_per_order = "2000"
max_orders_per_minute = 100000

[treasury]
timeout_seconds = 0.5
retries = 2
"""


@dataclass(frozen=True)
class SoakConfig:
    seed: int
    treasury_kills: int = 22
    signal_kills: int = 10
    # Tight limits, so that some intents are refused over_window_limit / too_many_transfers.
    max_transfers_per_hour: int = 70
    max_per_transfer: Decimal = Decimal("100")
    coin_cap: Decimal = Decimal("4000")
    cold_cap: Decimal = Decimal("1800")
    hot_cap: Decimal = Decimal("1200")
    chaos_budget_s: float = 75.0     # the kill phase ends by then even if kills remain
    settle_s: float = 60.0           # after the kills, everything accepted must end by then
    decide_within_s: float = 30.0    # an intent undecided this long counts as a hang
    # Clock faults (issue 10; tests/chaos/clockbook.py says which moves are fair and why).
    sandbox_start_offset_ms: int = 0     # the exchange's clock from the start (before any treasury)
    sandbox_clock_steps: int = 0         # forward steps of minutes, at any moment
    sandbox_back_jumps: int = 0          # steps back by hours: treasury down, nothing in flight
    host_clock_steps: int = 0            # the treasury's host clock, forward and back by up to hours
    # Operators (issue 10): treasuryctl approve/reject racing the treasury; policy edits.
    operator_actions: int = 0
    approval_above: Decimal | None = None
    late_approval_s: float = 20.0        # a late approval waits at least this long (soak time)
    policy_edits: int = 0                # caps rewritten between restarts, tightened and loosened
    quarantine_hours: int = 0            # > 0: a loosening must wait (longer than the soak)
    freezes: int = 0                     # issue 13: treasuryctl freeze, then unfreeze, during the chaos
    reloads: int = 0                     # issue 16: caps rewritten under the running treasury, then SIGHUP

    @property
    def clock_faults(self) -> bool:
        return bool(self.sandbox_clock_steps or self.sandbox_back_jumps or self.host_clock_steps
                    or self.sandbox_start_offset_ms)

    @property
    def caps(self) -> Caps:
        return Caps(self.max_transfers_per_hour, self.max_per_transfer, self.coin_cap, self.cold_cap,
                    self.hot_cap)

    @property
    def max_intent_age_seconds(self) -> int:
        """Wide enough for every offset in play (clients stamp behind the earliest clock)."""
        if not self.clock_faults:
            return 900
        spread_ms = abs(self.sandbox_start_offset_ms) + 4 * HOUR_MS + 6 * HOUR_MS
        return min(86_400, spread_ms // 1000 + 900)

    def with_faults(self, *, clocks: bool = True, operators: bool = True) -> "SoakConfig":
        """The same run with issue 10's faults, dosed to its number of kills."""
        from dataclasses import replace
        k = self.treasury_kills
        over = {}
        if clocks:
            over.update(sandbox_start_offset_ms=3 * HOUR_MS, sandbox_clock_steps=max(2, k // 4),
                        sandbox_back_jumps=max(1, k // 12), host_clock_steps=max(3, k // 4))
        if operators:
            over.update(operator_actions=max(8, k // 2), approval_above=Decimal("80"),
                        policy_edits=max(3, k // 7), quarantine_hours=12,
                        late_approval_s=min(45.0, self.chaos_budget_s / 4), freezes=max(3, k // 6),
                        reloads=max(3, k // 6))
        return replace(self, **over)

    @staticmethod
    def scaled(seed: int, treasury_kills: int, signal_kills: int) -> "SoakConfig":
        """Limits grown with the run's length, so the withdraw path stays busy throughout."""
        # Longer runs send relatively more per kill (fewer kill-free stretches wasted):
        # 1.4x keeps the hourly cap from closing the withdraw path before the last quarter.
        k = max(1.0, 1.4 * treasury_kills / 22)
        return SoakConfig(seed=seed, treasury_kills=treasury_kills, signal_kills=signal_kills,
                          max_transfers_per_hour=int(70 * k), coin_cap=Decimal(int(4000 * k)),
                          cold_cap=Decimal(int(1800 * k)), hot_cap=Decimal(int(1200 * k)),
                          chaos_budget_s=max(75.0, 3.5 * max(treasury_kills, 2 * signal_kills)))


def chaos_policy(cfg: SoakConfig, caps: Caps | None = None, quarantine_hours: int = 0) -> str:
    """The e2e destinations, with window caps on cold-wallet and hot-wallet, under `caps`."""
    caps = caps or cfg.caps
    own_caps = {"cold-wallet": caps.cold_cap, "hot-wallet": caps.hot_cap}
    destinations = [dataclasses.replace(d, window_cap=own_caps.get(d.label)) for d in E2E_DESTINATIONS]
    return policy_toml(
        destinations,
        coins={"USDT": CoinTable(caps.max_per_transfer, caps.coin_cap, cfg.approval_above)},
        quarantine_hours=quarantine_hours, max_transfers_per_hour=caps.max_transfers_per_hour,
        max_intent_age_seconds=cfg.max_intent_age_seconds,
        reconcile_grace_seconds=1, reconcile_deadline_minutes=10) + SOAK_BREAKERS


# The soak's clients send intents the policy refuses on purpose (about one in seven): the
# client_rejections breaker would freeze the treasury for good, so it is set out of reach.
# Freezes are the Freezer's (tests/chaos/operators.py); the breakers have their own tests.
SOAK_BREAKERS = "\n[circuit_breakers]\nclient_rejections = 1000000\n"


# -- the signal bot, restartable ----------------------------------------------------------------

class RestartableSignalBot:
    """A real `signal-bot run` on fixed files and port, that can be SIGKILLed and restarted."""

    def __init__(self, folder: Path, sandbox: Sandbox, treasury: TreasuryProcess) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        side = folder / "treasury_public"       # the treasury's PUBLIC key only, a copy
        side.mkdir(exist_ok=True)
        (side / "treasury.key").write_bytes(treasury.curve.treasury_public.read_bytes())
        self.port = free_port()
        self.env_path = folder / "signal.env"
        self.env_path.write_text(
            f"BINANCE_BASE_URL={sandbox.base_url}\n"
            f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
            f"SIGNAL_WEBHOOK_BIND=127.0.0.1:{self.port}\nSIGNAL_WEBHOOK_SECRET={SIGNAL_SECRET}\n"
            f"SIGNAL_CURVE_SECRET_FILE={treasury.curve.client_secrets['signal']}\n"
            f"TREASURY_CURVE_PUBLIC_FILE={side / 'treasury.key'}\n"
            f"TREASURY_INTENT_ENDPOINT={treasury.intent_endpoint}\n"
            f"TREASURY_EVENT_ENDPOINT={treasury.event_endpoint}\n"
            "SIGNAL_CONFIG_FILE=signal.toml\nSIGNAL_STATE_PATH=state.sqlite\n", encoding="utf-8")
        self.env_path.chmod(0o600)
        (folder / "signal.toml").write_text(SIGNAL_CONFIG, encoding="utf-8")
        self.proc: Proc | None = None
        self.starts = 0
        self.http = requests.Session()

    def start(self, timeout: float = 20.0) -> "RestartableSignalBot":
        self.starts += 1
        self.proc = Proc("signal-bot", [script("signal-bot"), "run", "--env-file", str(self.env_path)],
                         self.folder / f"bot.{self.starts}.log", cwd=self.folder,
                         env={k: "" for k in ("TREASURY_API_KEY", "TREASURY_API_SECRET")}).start()
        self.proc.wait_for_log("event=signal_bot_started", timeout=timeout)
        return self

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill9()

    def terminate(self) -> int:
        return self.proc.terminate() if self.proc is not None else 0

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("bot.*.log")))

    def post(self, body: dict) -> int | None:
        """The webhook's HTTP status, or None when the bot is down or died mid-request."""
        try:
            return self.http.post(f"http://127.0.0.1:{self.port}/signal", data=json.dumps(body),
                                  timeout=2).status_code
        except requests.RequestException:
            self.http.close()
            self.http = requests.Session()
            return None


# -- what was sent ------------------------------------------------------------------------------

@dataclass
class SentIntent:
    client: str
    intent: messages.TransferIntent
    outcome: str | None = None
    reason_code: str | None = None
    sends: int = 0
    unavailable: int = 0


@dataclass
class PostedSignal:
    signal_id: str
    quote_amount: str
    accepted: bool = False           # got a 202 at least once
    posts: int = 0
    down: int = 0                    # posts that found the bot down (then re-posted)
    statuses: list[int] = field(default_factory=list)


@dataclass
class Tally:
    treasury_kills: int = 0
    signal_kills: int = 0
    kill_modes: Counter = field(default_factory=Counter)
    kill_points: Counter = field(default_factory=Counter)   # ledger statuses present at each kill
    replays: int = 0
    conflicts: int = 0
    reposts_after_202: int = 0
    problems: list[str] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)     # (true ms, what the soak did)
    policy_edits: list[str] = field(default_factory=list)
    reloads: list[str] = field(default_factory=list)     # issue 16: live edits reloaded by SIGHUP
    back_jumps_skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def event(self, text: str) -> None:
        with self.lock:
            self.events.append((true_ms(), text))


# -- the scenario --------------------------------------------------------------------------------

class Soak:
    def __init__(self, workdir: Path, cfg: SoakConfig, say: Callable[[str], None] = print) -> None:
        self.workdir = workdir
        self.cfg = cfg
        self.say = say
        self.tally = Tally()
        self.intents: list[SentIntent] = []
        self.signals: list[PostedSignal] = []
        self.stop = threading.Event()
        self.sandbox: Sandbox | None = None
        self.treasury: TreasuryProcess | None = None
        self.bot: RestartableSignalBot | None = None
        self.last_treasury_kill = 0.0
        self.chaos_seconds = 0.0
        self.settle_seconds = 0.0
        # Issue 10's faults: clocks, operators, policy edits.
        headroom = 55 * MINUTE_MS - int((cfg.chaos_budget_s + cfg.settle_s) * 1000)
        self.clock = ClockBook(forward_headroom_ms=max(11 * MINUTE_MS, min(45 * MINUTE_MS, headroom)))
        self.hold = threading.Event()        # set: clients and the operator start nothing new
        self.first_sent: dict[str, int] = {}  # intent_id -> true ms of its first send
        self.caps_now = cfg.caps
        self.caps_history: list[tuple[int, Caps]] = [(0, cfg.caps)]
        self.operator = Operator(self, cfg.operator_actions, cfg.late_approval_s, cfg.seed * 7 + 6) \
            if cfg.operator_actions else None
        self.freezer = Freezer(self, cfg.freezes, cfg.seed * 7 + 8) if cfg.freezes else None
        self.offset_file = workdir / "treasury" / "test_clock_offset_ms"
        self.last_back_jump_ms = 0

    # -- running -------------------------------------------------------------------------

    def run(self) -> "SoakReport":
        cfg = self.cfg
        self.say(f"chaos soak seed={cfg.seed} treasury_kills={cfg.treasury_kills} "
                 f"signal_kills={cfg.signal_kills}")
        self.sandbox = start_sandbox(self.workdir, complete_after_seconds=0.3)
        try:
            if cfg.sandbox_start_offset_ms:
                self.clock.set_sandbox(self.sandbox, cfg.sandbox_start_offset_ms, "start")
                self.tally.event(f"sandbox clock {cfg.sandbox_start_offset_ms / HOUR_MS:+.2f} h from the start")
            self.offset_file.parent.mkdir(parents=True, exist_ok=True)
            write_offset_file(self.offset_file, None)
            # Always set: a treasury that does not know the setting ignores it (issue 10).
            self.treasury = TreasuryProcess(
                self.workdir, self.sandbox, policy_text=chaos_policy(cfg), poll_seconds=0.2,
                extra_env={"TREASURY_TEST_CLOCK_OFFSET_FILE": str(self.offset_file)}).start()
            if cfg.quarantine_hours:
                self._bootstrap_quarantine()
            self.bot = RestartableSignalBot(self.workdir / "bot", self.sandbox, self.treasury).start()
            began = time.monotonic()
            workers = [threading.Thread(target=self._guard(self._client_loop, name), name=f"client-{name}")
                       for name in ("signal", "other")]
            workers.append(threading.Thread(target=self._guard(self._poster_loop), name="poster"))
            killers = [threading.Thread(target=self._guard(self._treasury_killer), name="kill-treasury"),
                       threading.Thread(target=self._guard(self._signal_killer), name="kill-signal")]
            if self.operator is not None:
                workers.append(threading.Thread(target=self._guard(
                    self.operator.run, lambda: self._chaos_over(began)), name="operator"))
            if self.freezer is not None:
                workers.append(threading.Thread(target=self._guard(
                    self.freezer.run, lambda: self._chaos_over(began)), name="freezer"))
            for thread in workers + killers:
                thread.start()
            for thread in killers:
                thread.join(cfg.chaos_budget_s + 60)
            self.stop.set()
            for thread in workers:
                thread.join(cfg.decide_within_s + 10)
                if thread.is_alive():
                    self.tally.problem(f"{thread.name} did not finish (a hang)")
            self.chaos_seconds = time.monotonic() - began
            self._settle()
            self.settle_seconds = time.monotonic() - began - self.chaos_seconds
            codes = {"treasury": self.treasury.terminate(), "signal-bot": self.bot.terminate()}
            for name, code in codes.items():
                if code != 0:
                    self.tally.problem(f"{name} exited {code} on the final SIGTERM")
            return judge(self)
        finally:
            for stopper in (self.bot, self.treasury):
                if stopper is not None:
                    stopper.terminate()
            self.sandbox.stop()

    def _guard(self, body, *args):
        def run() -> None:
            try:
                body(*args)
            except Exception as exc:  # a crash of the harness is a finding too: report it
                self.tally.problem(f"{threading.current_thread().name} crashed: {exc!r}")
                self.stop.set()
        return run

    def _chaos_over(self, began: float) -> bool:
        return self.stop.is_set() or time.monotonic() - began > self.cfg.chaos_budget_s

    # -- killers ---------------------------------------------------------------------------

    def _treasury_killer(self) -> None:
        cfg = self.cfg
        rng = random.Random(cfg.seed * 7 + 1)
        began = time.monotonic()
        modes = ("uptime", "uptime", "uptime", "in_flight", "applied_unanswered", "unknown_reply",
                 "processing")
        if cfg.sandbox_clock_steps or cfg.host_clock_steps:   # an unknown outcome under a clock step
            modes += ("unknown_clock", "unknown_clock")
        kills = cfg.treasury_kills
        edits_at = _spread(cfg.policy_edits, kills, offset=1)
        reloads_at = _spread(cfg.reloads, kills, offset=2)
        back_at = _spread(cfg.sandbox_back_jumps, kills, offset=3)
        host_restart_steps = 0
        for index in range(kills):
            if self._chaos_over(began):
                break
            back_jump = index in back_at and self._quiesce()
            mode = "quiescent" if back_jump else rng.choice(modes)
            if not back_jump:
                self._arm(mode, rng)
                if mode != "unknown_clock":      # clock steps at plain moments too
                    self._maybe_clock_step(rng, kills - index)
            self.tally.kill_modes[mode] += 1
            self.treasury.kill9()
            self.tally.event(f"treasury SIGKILL ({mode})")
            self.last_treasury_kill = time.monotonic()
            self.tally.treasury_kills += 1
            self._note_kill_point()
            if back_jump:
                self._sandbox_back_jump(rng)
                self.sandbox.clear_faults()
            if index in edits_at:
                self._edit_policy(rng)
            if cfg.host_clock_steps and host_restart_steps < max(1, cfg.host_clock_steps // 3) \
                    and rng.random() < 0.25:
                host_restart_steps += 1
                self._host_step_at_restart(rng)
            if mode == "in_flight":      # down past the policy's 1 s grace, like a supervisor's
                self.stop.wait(rng.uniform(1.2, 2.5))   # restart back-off, request still held
            elif rng.random() < 0.3:     # stay down a while: clients get TreasuryUnavailable
                self.stop.wait(rng.uniform(0.2, 1.0))
            self.treasury.start()
            self.hold.clear()
            if index in reloads_at:
                self._live_reload(rng)

    # -- clock faults (tests/chaos/clockbook.py) --------------------------------------------

    def _maybe_clock_step(self, rng: random.Random, kills_left: int) -> None:
        cfg = self.cfg
        sandbox_left = cfg.sandbox_clock_steps - self.tally.kill_modes.get("_sandbox_steps", 0)
        host_left = cfg.host_clock_steps - self.tally.kill_modes.get("_host_steps", 0)
        if sandbox_left > 0 and rng.random() < min(1.0, 1.5 * sandbox_left / max(1, kills_left)):
            self._sandbox_forward(rng, "at a plain moment")
        if host_left > 0 and rng.random() < min(1.0, 1.5 * host_left / max(1, kills_left)):
            self._host_step_live(rng, "at a plain moment")

    def _sandbox_forward(self, rng: random.Random, why: str) -> bool:
        """Step the exchange's clock forward by minutes (over the 10 min of issue 10 defect 1
        when there is room), never past the ceiling that keeps the hourly count fair."""
        current, ceiling = self.clock.sandbox_offset(), self.clock.forward_ceiling()
        target = min(current + int(rng.uniform(11, 22) * MINUTE_MS), ceiling)
        if target - current < MINUTE_MS:
            return False
        self.clock.set_sandbox(self.sandbox, target, why)
        self.tally.kill_modes["_sandbox_steps"] += 1
        self.tally.event(f"sandbox clock forward to {target / MINUTE_MS:+.1f} min ({why})")
        return True

    def _sandbox_back_jump(self, rng: random.Random) -> None:
        """Hours back, with the treasury down and nothing in flight (see _quiesce)."""
        current = self.clock.sandbox_offset()
        # Within -4 h: max_intent_age_seconds covers that spread (SoakConfig).
        target = max(current - int(rng.uniform(1.5, 4.0) * HOUR_MS), -4 * HOUR_MS)
        if current - target < HOUR_MS:
            self.tally.back_jumps_skipped += 1
            return
        self.clock.set_sandbox(self.sandbox, target, "back, treasury down, nothing in flight")
        self.last_back_jump_ms = true_ms()
        self.tally.kill_modes["_sandbox_back_jumps"] += 1
        self.tally.event(f"sandbox clock back to {target / HOUR_MS:+.2f} h")

    def _host_offset_choice(self, rng: random.Random) -> int:
        """Minutes to hours, forward or back of the current host offset, within +-6 h."""
        current = self.clock.host_offset()
        step = int(rng.choice((3, 11, 25, 70, 180, 360)) * MINUTE_MS * rng.choice((1, -1)))
        target = max(-6 * HOUR_MS, min(6 * HOUR_MS, current + step))
        return target if target != current else current - step

    def _host_step_live(self, rng: random.Random, why: str) -> None:
        """The running treasury's host clock steps (it re-reads the file about every second)."""
        target = self._host_offset_choice(rng)
        before = true_ms()
        write_offset_file(self.offset_file, target)
        self.clock.note_host(target, f"live: {why}", before)
        self.tally.kill_modes["_host_steps"] += 1
        self.tally.event(f"treasury host clock to {target / MINUTE_MS:+.1f} min, live ({why})")

    def _host_step_at_restart(self, rng: random.Random) -> None:
        """The next start reads its offset from TREASURY_TEST_CLOCK_OFFSET_MS (file emptied)."""
        target = self._host_offset_choice(rng)
        before = true_ms()
        write_offset_file(self.offset_file, None)
        self.treasury.write_env({**self.treasury.env, "TREASURY_TEST_CLOCK_OFFSET_MS": str(target)})
        self.clock.note_host(target, "at restart (env)", before)
        self.tally.kill_modes["_host_steps"] += 1
        self.tally.event(f"treasury host clock to {target / MINUTE_MS:+.1f} min at restart")

    def _quiesce(self) -> bool:
        """Hold new intents and approvals until no withdrawal is unfinished, in the ledger
        and on the exchange (bounded); False (and the hold lifted) if that did not happen."""
        self.hold.set()
        in_flight = ("queued", "submitting", "submitted", "email_sent", "awaiting_approval", "processing")
        marks = ",".join("?" * len(in_flight))

        def quiet() -> bool:
            if self.treasury.query(f"SELECT 1 FROM intents WHERE status IN ({marks}) LIMIT 1", in_flight):
                return False
            # Those applied before an earlier step back are dated in the sandbox's future
            # and show unfinished until the settle brings its clock back: they ended then.
            return all(w["status"] in (1, 3, 5, 6) for w in self.sandbox.withdrawals()
                       if float(w["receivedAt"]) > self.last_back_jump_ms)
        try:
            wait_until(quiet, timeout=15, interval=0.1, what="no withdrawal in flight")
            self.sandbox.add_fault(APPLY, "5xx_before", count=-1)   # nothing may start before the kill
            if not quiet():
                raise Timeout("a withdrawal started while quiescing")
            return True
        except Timeout:
            self.sandbox.clear_faults()
            self.hold.clear()
            self.tally.back_jumps_skipped += 1
            return False

    # -- policy edits (between restarts) ----------------------------------------------------

    def _edit_policy(self, rng: random.Random) -> None:
        """Rewrite the policy file while the treasury is down: a cap lowered (tightening, in
        force at the start) or raised (loosening, not before its quarantine)."""
        text, caps = self._next_caps(rng)
        self.caps_now = caps
        self.treasury.policy_path.write_text(
            chaos_policy(self.cfg, self.caps_now, self.cfg.quarantine_hours), encoding="utf-8")
        with self.tally.lock:
            self.caps_history.append((true_ms(), self.caps_now))
        self.tally.policy_edits.append(text)
        self.tally.event(f"policy edit: {text}")

    def _live_reload(self, rng: random.Random) -> None:
        """Issue 16: rewrite the policy under the RUNNING treasury and SIGHUP it (the pid file's
        pid, as `treasuryctl reload` does), while intents flow. A tightening counts from the
        reload's end (intents decided before it were decided under the old caps), a loosening
        waits for its quarantine; the policy-file breaker must not trip (every freeze is
        judged), nothing may be lost or doubled."""
        import os
        import signal as signals

        from treasury_bot.reload import pid_file_for
        text, caps = self._next_caps(rng)
        before = self.treasury.log().count("event=reload_done")
        self.treasury.policy_path.write_text(chaos_policy(self.cfg, caps, self.cfg.quarantine_hours),
                                             encoding="utf-8")
        pid = int(pid_file_for(self.treasury.ledger_path).read_text().strip())
        os.kill(pid, signals.SIGHUP)
        try:
            wait_until(lambda: self.treasury.log().count("event=reload_done") > before, timeout=10,
                       what="the treasury's reload_done")
        except Timeout:
            self.tally.problem(f"reload ({text}) not done within 10 s")
            return
        line = [x for x in self.treasury.log().splitlines() if "event=reload_done" in x][before]
        if "refused" in line:
            self.tally.problem(f"reload ({text}) refused: {line}")
        self.caps_now = caps
        with self.tally.lock:
            self.caps_history.append((true_ms(), self.caps_now))
        self.tally.reloads.append(text)
        self.tally.event(f"policy reload: {text}")

    def _next_caps(self, rng: random.Random) -> tuple[str, Caps]:
        """One cap tightened (every other edit, or when far above its start) or loosened."""
        names = ("coin_cap", "cold_cap", "hot_cap", "max_transfers_per_hour")
        name = rng.choice(names)
        initial, current = getattr(self.cfg.caps, name), getattr(self.caps_now, name)
        tighten = (len(self.tally.policy_edits) + len(self.tally.reloads)) % 2 == 0 or current >= initial * Decimal("1.5")
        factor = Decimal(str(round(rng.uniform(0.75, 0.9) if tighten else rng.uniform(1.15, 1.4), 2)))
        value = current * factor
        value = max(int(value), 1) if name == "max_transfers_per_hour" else Decimal(int(value))
        text = f"{'tighten' if tighten else 'loosen'} {name} {current} -> {value}"
        return text, self.caps_now.with_value(name, value)

    def _bootstrap_quarantine(self) -> None:
        """Make the soak's destinations long known, then raise quarantine_hours, so that a
        loosening waits (longer than the soak) while the destinations stay usable: start once
        with quarantine 0 (the ledger records them), stop, date their sighting back past the
        quarantine (as if the treasury had run for a day), start with the real quarantine."""
        self.treasury.terminate()
        back = (self.cfg.quarantine_hours + 1) * HOUR_MS
        conn = sqlite3.connect(self.treasury.ledger_path, timeout=10)
        try:
            with conn:
                conn.execute("UPDATE destinations_seen SET first_seen_at = first_seen_at - ?,"
                             " changed_at = changed_at - ?", (back, back))
        finally:
            conn.close()
        self.treasury.policy_path.write_text(
            chaos_policy(self.cfg, self.caps_now, self.cfg.quarantine_hours), encoding="utf-8")
        self.treasury.start()
        self.tally.event(f"quarantine_hours 0 -> {self.cfg.quarantine_hours} before the soak")

    def _arm(self, mode: str, rng: random.Random) -> None:
        """Prepare the kill's moment and wait for it (bounded: kill anyway after a while)."""
        if mode == "uptime":
            self.stop.wait(rng.uniform(0.1, 1.3))
            return
        if mode == "in_flight":          # the exchange holds the request before applying it
            # Up to 4 s: still inside the 5 s recvWindow, so it lands after a quick restart.
            self.sandbox.add_fault(APPLY, "latency", count=1, seconds=round(rng.uniform(0.3, 4.0), 2))
            self._wait_any_status("submitting", 3.0)
        elif mode == "applied_unanswered":   # applied, answer held back
            self.sandbox.add_fault(APPLY, "latency_after", count=1, seconds=round(rng.uniform(0.5, 2.0), 2))
            self._wait_any_status("submitting", 3.0)
            self.stop.wait(rng.uniform(0.0, 0.3))
        elif mode == "unknown_reply":    # applied, then 500 or a dropped connection
            self.sandbox.add_fault(APPLY, rng.choice(("5xx_after", "drop_after")), count=1)
            self.stop.wait(rng.uniform(0.2, 1.5))
        elif mode == "processing":
            self._wait_any_status("processing", 3.0)
        elif mode == "unknown_clock":    # applied, 5XX / dropped; then a clock steps; then reconcile
            kind = rng.choice(("5xx_after", "drop_after"))
            self.sandbox.add_fault(APPLY, kind, count=1)
            try:
                wait_until(lambda: not self.sandbox.faults(), timeout=4.0, interval=0.02,
                           what="the faulted apply to land")
                landed = True
            except Timeout:
                self.sandbox.clear_faults()
                landed = False
            why = f"after an apply answered {kind}" if landed else "no apply came"
            stepped = False
            if self.tally.kill_modes.get("_sandbox_steps", 0) < self.cfg.sandbox_clock_steps:
                stepped = self._sandbox_forward(rng, why)
            if self.tally.kill_modes.get("_host_steps", 0) < self.cfg.host_clock_steps \
                    and (not stepped or rng.random() < 0.5):
                self._host_step_live(rng, why)
            # Past the 1 s grace and the treasury's ~1 s re-read of the offset file: the
            # executor reconciles the unknown outcome under the new clocks before the kill.
            self.stop.wait(rng.uniform(1.5, 3.5))

    def _note_kill_point(self) -> None:
        """Which points of the withdraw path the kill cut through (read after it, same state)."""
        placeholders = ",".join("?" * len(OPEN_STATUSES))
        for (status,) in self.treasury.query(
                f"SELECT DISTINCT status FROM intents WHERE status IN ({placeholders})", OPEN_STATUSES):
            self.tally.kill_points[status] += 1

    def _wait_any_status(self, status: str, timeout: float) -> None:
        try:
            wait_until(lambda: self.treasury.query(
                "SELECT 1 FROM intents WHERE status = ? LIMIT 1", (status,)), timeout=timeout,
                interval=0.01, what=f"an intent in {status}")
        except Timeout:
            pass                         # nothing reached it in time: this kill is at a random moment

    def _signal_killer(self) -> None:
        rng = random.Random(self.cfg.seed * 7 + 2)
        began = time.monotonic()
        for _ in range(self.cfg.signal_kills):
            if self._chaos_over(began):
                break
            self.stop.wait(rng.uniform(0.2, 2.0))
            self.bot.kill9()
            self.tally.signal_kills += 1
            if rng.random() < 0.3:
                self.stop.wait(rng.uniform(0.2, 0.8))
            self.bot.start()

    # -- intents -----------------------------------------------------------------------------

    def _client_loop(self, name: str) -> None:
        rng = random.Random(self.cfg.seed * 7 + (3 if name == "signal" else 4))
        client = self.treasury.client(name, timeout=0.4, retries=1)
        labels, weights = zip(*DESTINATIONS[name])
        decided: list[SentIntent] = []
        number = 0
        try:
            while not self.stop.is_set():
                if self.hold.is_set():       # the killer is quiescing (bounded by it: 15 s)
                    self.stop.wait(0.05)
                    continue
                number += 1
                sent = SentIntent(name, messages.TransferIntent(
                    intent_id=f"cs{self.cfg.seed % 100000}-{name[0]}{number}", coin="USDT", network="TRX",
                    destination=rng.choices(labels, weights)[0], amount=self._amount(rng),
                    reason="chaos soak", created_at=self.clock.created_at_ms()))
                with self.tally.lock:
                    self.intents.append(sent)
                    self.first_sent[sent.intent.intent_id] = true_ms()
                decision = self._deliver(client, sent.intent, sent)
                if decision is not None:
                    sent.outcome, sent.reason_code = decision.outcome, decision.reason_code
                    decided.append(sent)
                if decided and rng.random() < 0.08:
                    self._replay(client, rng.choice(decided))
                if decided and rng.random() < 0.04:
                    self._conflict(client, rng.choice(decided))
                self.stop.wait(rng.uniform(0.05, 0.3))
        finally:
            client.close()

    def _amount(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.07:
            return f"{rng.uniform(1, 9.99):.2f}"                       # below_exchange_minimum
        if roll < 0.15:
            return f"{rng.uniform(100.01, 300):.2f}"                   # over_transfer_limit
        return f"{rng.uniform(10, float(self.cfg.max_per_transfer)):.2f}"

    def _deliver(self, client, intent: messages.TransferIntent, sent: SentIntent | None):
        """Send until a reply: the same frame each time (Lazy Pirate, then a later resend)."""
        deadline = time.monotonic() + self.cfg.decide_within_s
        while True:
            if sent is not None:
                sent.sends += 1
            try:
                reply = client.send_intent(intent)
            except TreasuryUnavailable:
                if sent is not None:
                    sent.unavailable += 1
                if time.monotonic() > deadline:
                    self.tally.problem(f"{intent.intent_id}: undecided after {self.cfg.decide_within_s}s")
                    return None
                time.sleep(0.05)
                continue
            if not isinstance(reply, messages.Decision) or reply.intent_id != intent.intent_id:
                self.tally.problem(f"{intent.intent_id}: unexpected reply {reply!r}")
                return None
            return reply

    def _replay(self, client, earlier: SentIntent) -> None:
        """The same intent again: the same decision, never a second withdrawal."""
        reply = self._deliver(client, earlier.intent, None)
        self.tally.replays += 1
        # A pending intent may since have been approved or rejected by the operator.
        operator_moved = earlier.outcome == "pending_approval" and reply is not None and \
            (reply.outcome, reply.reason_code) in (("accepted", None), ("rejected", "operator_rejected"))
        if reply is not None and not operator_moved and \
                (reply.outcome, reply.reason_code) != (earlier.outcome, earlier.reason_code):
            self.tally.problem(f"{earlier.intent.intent_id}: replay answered {reply.outcome}/"
                               f"{reply.reason_code}, first {earlier.outcome}/{earlier.reason_code}")

    def _conflict(self, client, earlier: SentIntent) -> None:
        """The same intent_id with another amount: intent_id_conflict, the original untouched."""
        other = messages.TransferIntent(**{**_fields(earlier.intent), "amount": "10.01"
                                           if earlier.intent.amount != "10.01" else "10.02"})
        reply = self._deliver(client, other, None)
        self.tally.conflicts += 1
        if reply is not None and (reply.outcome, reply.reason_code) != ("rejected", "intent_id_conflict"):
            self.tally.problem(f"{other.intent_id}: a conflicting resend got {reply.outcome}/{reply.reason_code}")

    # -- signals -----------------------------------------------------------------------------

    def _poster_loop(self) -> None:
        rng = random.Random(self.cfg.seed * 7 + 5)
        number = 0
        while not self.stop.is_set():
            number += 1
            posted = PostedSignal(f"sg{self.cfg.seed % 100000}-{number}", str(rng.randint(10, 40)))
            self.signals.append(posted)
            self._post_until_accepted(posted)
            accepted = [s for s in self.signals if s.accepted]
            if accepted and rng.random() < 0.1:   # the same id again, after its 202
                self.tally.reposts_after_202 += 1
                self._post_until_accepted(rng.choice(accepted))
            self.stop.wait(rng.uniform(0.03, 0.2))

    def _post_until_accepted(self, posted: PostedSignal) -> None:
        body = {"id": posted.signal_id, "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                "quote_amount": posted.quote_amount, "passphrase": SIGNAL_SECRET}
        deadline = time.monotonic() + self.cfg.decide_within_s
        while True:
            posted.posts += 1
            status = self.bot.post(body)
            if status is not None:
                posted.statuses.append(status)
                posted.accepted = posted.accepted or status == 202
                return
            posted.down += 1                 # down: post the same id again once it is back
            if time.monotonic() > deadline:
                self.tally.problem(f"signal {posted.signal_id}: the bot stayed down")
                return
            time.sleep(0.05)

    # -- the end -----------------------------------------------------------------------------

    def _settle(self) -> None:
        """Faults off, both bots up; every accepted intent ends and every in-flight request is
        past the exchange's recvWindow (nothing signed before a kill can land after this)."""
        self.sandbox.clear_faults()
        placeholders = ",".join("?" * len(OPEN_STATUSES))
        try:
            wait_until(lambda: self.treasury.query(
                f"SELECT COUNT(*) FROM intents WHERE status IN ({placeholders})", OPEN_STATUSES)[0][0] == 0,
                timeout=self.cfg.settle_s, interval=0.2, what="every accepted intent to end")
        except Timeout as exc:
            still_open = self.treasury.query(
                f"SELECT intent_id, status FROM intents WHERE status IN ({placeholders})", OPEN_STATUSES)
            self.tally.problem(f"settle: {exc}; open: {still_open}")
        if self.clock.sandbox and self.clock.sandbox_offset() < self.clock.sandbox_max():
            # Withdrawals applied before a step back are dated in the sandbox's future: its
            # statuses follow its clock, so bring it to the latest offset before judging.
            self.clock.set_sandbox(self.sandbox, self.clock.sandbox_max(), "settle: the latest offset")
        wait_until(lambda: time.monotonic() - self.last_treasury_kill > RECV_WINDOW_MARGIN_S,
                   timeout=RECV_WINDOW_MARGIN_S + 1, what="the last kill's requests to expire")
        last = next((s for s in reversed(self.signals) if s.accepted), None)
        if last is not None:             # the bot has worked through what it was last given
            try:
                wait_until(lambda: f"id={last.signal_id} " in self.bot.proc.log(), timeout=15,
                           what=f"the signal bot to handle {last.signal_id}")
            except Timeout as exc:
                self.tally.problem(str(exc))


def _spread(count: int, total: int, offset: int = 0) -> set[int]:
    """`count` indices spread evenly over range(total), shifted by `offset`."""
    if count <= 0 or total <= 0:
        return set()
    return {min(total - 1, offset + (j * total) // count) for j in range(count)}


def _fields(intent: messages.TransferIntent) -> dict:
    return {name: getattr(intent, name) for name in intent.__struct_fields__}


# -- judging -------------------------------------------------------------------------------------

@dataclass
class SoakReport:
    seed: int
    treasury_kills: int
    signal_kills: int
    kill_modes: dict[str, int]
    kill_points: dict[str, int]
    intents: int
    accepted: int
    rejected_by_reason: dict[str, int]
    withdrawn: int
    doubles: list[str]
    lost: list[str]
    unjustified: list[str]            # withdrawals without an accepted intent (or rejected ones)
    cap_breaches: list[str]
    disagreements: list[str]          # the client was told something the ledger does not hold
    final_status_mismatch: list[str]
    orders: int
    order_doubles: list[str]
    unknown_orders: list[str]
    signals_posted: int
    signals_202: int
    signals_202_never_traded: int     # answered 202 but no order on the exchange: a lost signal
    reposts: int
    replays: int
    conflicts: int
    unavailable: int
    problems: list[str]
    chaos_seconds: float
    settle_seconds: float
    extra_apply_calls: int = 0        # resubmissions of attempts proven absent (not doubles)
    # Issue 10's faults and what the judge found under them.
    sandbox_clock_changes: int = 0    # the start offset, forward steps and steps back
    host_clock_steps: int = 0
    back_jumps_skipped: int = 0       # no quiet moment came in time
    operator_actions: int = 0
    operator_wins: dict[str, int] = field(default_factory=dict)
    late_approvals: int = 0           # late approvals that took effect
    operator_mismatches: list[str] = field(default_factory=list)
    policy_edits: list[str] = field(default_factory=list)
    refused_terminal: list[str] = field(default_factory=list)   # accepted, refused by the exchange: documented
    double_details: list[str] = field(default_factory=list)     # each double with the faults around it
    breach_details: list[str] = field(default_factory=list)
    freezes: int = 0                  # issue 13: freezes in the ledger (each lifted again)
    reloads: list[str] = field(default_factory=list)   # issue 16: live policy edits reloaded by SIGHUP
    freeze_violations: list[str] = field(default_factory=list)   # a submission while frozen, a freeze left

    @property
    def clock_faults(self) -> int:
        return self.sandbox_clock_changes + self.host_clock_steps

    def result_line(self) -> str:
        return (f"RESULT kills={self.treasury_kills + self.signal_kills} clock_faults={self.clock_faults} "
                f"operator_actions={self.operator_actions} policy_edits={len(self.policy_edits)} "
                f"doubles={len(self.doubles)} lost={len(self.lost)} cap_breaches={len(self.cap_breaches)} "
                f"intents={self.intents} accepted={self.accepted} withdrawn={self.withdrawn} "
                f"sandbox_clock={self.sandbox_clock_changes} host_clock={self.host_clock_steps} "
                f"late_approvals={self.late_approvals} orders={self.orders} "
                f"order_doubles={len(self.order_doubles)} freezes={self.freezes} "
                f"freeze_violations={len(self.freeze_violations)} reloads={len(self.reloads)}")

    def summary(self) -> str:
        return "\n".join([
            f"seed={self.seed} chaos={self.chaos_seconds:.1f}s settle={self.settle_seconds:.1f}s",
            f"kills: treasury={self.treasury_kills} {self.kill_modes} signal-bot={self.signal_kills}",
            f"kills that cut an intent in each status: {self.kill_points}; "
            f"apply calls beyond one per withdrawal: {self.extra_apply_calls}",
            f"intents={self.intents} accepted={self.accepted} withdrawn={self.withdrawn} "
            f"rejected={self.rejected_by_reason}",
            f"resends: TreasuryUnavailable={self.unavailable} replays={self.replays} conflicts={self.conflicts}",
            f"signals posted={self.signals_posted} 202={self.signals_202} orders={self.orders} "
            f"reposts_after_202={self.reposts} 202_never_traded={self.signals_202_never_traded}",
            f"doubles={self.doubles} lost={self.lost} unjustified={self.unjustified} "
            f"cap_breaches={self.cap_breaches} disagreements={self.disagreements[:10]} "
            f"final_status_mismatch={self.final_status_mismatch[:10]} order_doubles={self.order_doubles} "
            f"unknown_orders={self.unknown_orders[:10]} problems={self.problems[:10]}",
            f"clocks: sandbox changes={self.sandbox_clock_changes} (steps back skipped: "
            f"{self.back_jumps_skipped}) treasury host steps={self.host_clock_steps}",
            f"operator: actions={self.operator_actions} wins={self.operator_wins} late approvals="
            f"{self.late_approvals} mismatches={self.operator_mismatches[:10]}",
            f"policy edits: {self.policy_edits}; refused by the exchange (terminal): {self.refused_terminal[:10]}",
            f"freezes: {self.freezes} violations={self.freeze_violations[:10]}",
            *[f"double: {d}" for d in self.double_details[:10]],
            *[f"breach: {b}" for b in self.breach_details[:10]],
        ])


def judge(soak: Soak) -> SoakReport:
    cfg, treasury, sandbox = soak.cfg, soak.treasury, soak.sandbox
    ledger = {row[0]: row for row in treasury.query(
        "SELECT intent_id, client, outcome, reason_code, status, destination, amount, address FROM intents")}
    errors = dict(treasury.query("SELECT i.intent_id, w.error_code FROM withdrawals w"
                                 " JOIN intents i ON i.seq = w.intent_seq WHERE w.error_code IS NOT NULL"))
    refused = treasury.query("SELECT intent_id, reason_code FROM refused_requests")
    record = sandbox.admin("GET", "/sandbox/withdrawals")
    by_order_id: dict[str, list[dict]] = defaultdict(list)
    for withdrawal in record["withdrawals"]:
        by_order_id[withdrawal["withdrawOrderId"] or ""].append(withdrawal)
    accepted = {i for i, row in ledger.items() if row[2] == "accepted"}
    actions: list[Action] = list(soak.operator.actions) if soak.operator is not None else []
    won = {a.intent_id: a for a in actions if a.won}
    problems = list(soak.tally.problems)

    doubles = sorted(i for i, ws in by_order_id.items() if len(ws) > 1)
    # An accepted intent with no withdrawal is lost, unless the exchange refused it with a
    # documented code (status failed, the code kept): a terminal refusal, listed apart.
    refused_terminal = sorted(f"{i} ({errors[i]})" for i in accepted if not by_order_id.get(i)
                              and ledger[i][4] == "failed" and errors.get(i))
    lost = sorted(i for i in accepted if not by_order_id.get(i)
                  and not (ledger[i][4] == "failed" and errors.get(i)))
    lost += [f"{s.intent.intent_id} (told {s.outcome}, not in the ledger)" for s in soak.intents
             if s.outcome is not None and s.intent.intent_id not in ledger]
    lost += [f"{i} ({ledger[i][4]})" for i in accepted if ledger[i][4] in OPEN_STATUSES + ("needs_review",)]
    unjustified = sorted(i for i in by_order_id if i not in accepted)

    def operator_moved(intent_id: str) -> bool:
        action = won.get(intent_id)
        return action is not None and tuple(ledger[intent_id][2:4]) == (
            ("accepted", None) if action.verb == "approve" else ("rejected", "operator_rejected"))
    disagreements = [f"{s.intent.intent_id}: told {s.outcome}/{s.reason_code}, ledger {ledger[s.intent.intent_id][2:4]}"
                     for s in soak.intents if s.outcome is not None and s.intent.intent_id in ledger
                     and (s.outcome, s.reason_code) != tuple(ledger[s.intent.intent_id][2:4])
                     and not (s.outcome == "pending_approval" and operator_moved(s.intent.intent_id))]
    disagreements += [f"{s.intent.intent_id}: ledger client {ledger[s.intent.intent_id][1]}"
                      for s in soak.intents if s.intent.intent_id in ledger
                      and ledger[s.intent.intent_id][1] != s.client]
    disagreements += [f"refused {i}: {code}" for i, code in refused if code != "intent_id_conflict"]
    mismatch = []
    for intent_id in accepted:
        withdrawals = by_order_id.get(intent_id, [])
        if len(withdrawals) != 1:
            continue
        (w,) = withdrawals
        row = ledger[intent_id]
        if FINAL_BY_EXCHANGE.get(w["status"]) != row[4] or Decimal(w["amount"]) != Decimal(row[6]) \
                or w["address"] != row[7] or w["address"] != ADDRESSES.get(row[5]):
            mismatch.append(f"{intent_id}: ledger {row[4]} {row[6]} {row[5]}, exchange {w['status']} "
                            f"{w['amount']} {w['address']}")

    # The operator: what treasuryctl said must be what the ledger holds.
    operator_mismatches = []
    for action in actions:
        if action.exit_code not in (0, 1) or (action.exit_code == 1 and action.code is None):
            operator_mismatches.append(f"{action.kind} {action.intent_id}: exit {action.exit_code}: {action.output}")
        elif action.won and not operator_moved(action.intent_id):
            operator_mismatches.append(f"{action.kind} {action.intent_id} won, ledger "
                                       f"{ledger.get(action.intent_id, ('?',) * 5)[2:5]}")
    contests = defaultdict(list)
    for action in actions:
        if action.kind.startswith("contest_"):
            contests[action.intent_id].append(action)
    for intent_id, pair in contests.items():
        if sum(a.won for a in pair) != 1:
            operator_mismatches.append(f"contest {intent_id}: {[(a.kind, a.exit_code, a.code) for a in pair]}")

    # Issue 13: the ledger's own record of each freeze says which transitions it covered;
    # none of them may be a submission, and every freeze must have been lifted.
    freeze_violations = []
    freezes = treasury.query("SELECT seq, frozen_after_transition, unfrozen_after_transition FROM freezes")
    for seq, after, until in freezes:
        if until is None:
            freeze_violations.append(f"freeze {seq} never lifted")
            continue
        submitted = treasury.query("SELECT t.seq, i.intent_id FROM transitions t JOIN intents i ON i.seq = t.intent_seq"
                                   " WHERE t.seq > ? AND t.seq <= ? AND t.to_status = 'submitting'", (after, until))
        freeze_violations += [f"freeze {seq}: {intent_id} submitted while frozen (transition {t})"
                              for t, intent_id in submitted]
    spells = list(soak.freezer.spells) if soak.freezer is not None else []
    freeze_violations += [f"freeze by treasuryctl: exit {s.freeze.exit_code}: {s.freeze.output}"
                          for s in spells if s.freeze.exit_code != 0]
    freeze_violations += [f"unfreeze by treasuryctl: {s.unfreeze.output if s.unfreeze else 'never run'}"
                          for s in spells if s.unfreeze is None or s.unfreeze.exit_code != 0]

    # The limits, in true time, against the strictest caps configured (limits_judge).
    decided_from = dict(soak.first_sent)
    for action in actions:
        if action.won and action.verb == "approve":
            decided_from[action.intent_id] = action.started_ms
    judged, offsets_at = [], {}
    for w in record["withdrawals"]:
        at, offset = true_apply_ms(w, soak.clock)
        if offset is None and soak.cfg.clock_faults:
            problems.append(f"{w['withdrawOrderId']}: no injected sandbox offset explains its apply time")
        offsets_at[w["id"]] = offset
        oid = w["withdrawOrderId"] or ""
        judged.append(Judged(oid, at, w["coin"], w["address"], Decimal(w["amount"]), w["status"],
                             decided_from.get(oid, 0)))
    caps_found = breaches(judged, soak.caps_history, 24,
                          {DEMO_TRX_ADDRESS: "cold_cap", DEMO_TRX_HOT_ADDRESS: "hot_cap"})

    orders = soak.sandbox.orders()
    order_count = Counter(o["clientOrderId"] for o in orders)
    posted = {s.signal_id for s in soak.signals}
    traded = set(order_count)
    sandbox_changes, host_steps = soak.clock.counts()
    events = list(soak.tally.events)
    return SoakReport(
        seed=cfg.seed, treasury_kills=soak.tally.treasury_kills, signal_kills=soak.tally.signal_kills,
        kill_modes={k: v for k, v in soak.tally.kill_modes.items() if not k.startswith("_")},
        kill_points=dict(soak.tally.kill_points),
        intents=len(soak.intents), accepted=len(accepted),
        rejected_by_reason=dict(Counter(row[3] for row in ledger.values() if row[2] == "rejected")),
        withdrawn=sum(1 for i in accepted if by_order_id.get(i)), doubles=doubles, lost=lost,
        unjustified=unjustified, cap_breaches=caps_found,
        disagreements=disagreements, final_status_mismatch=mismatch,
        orders=len(orders), order_doubles=sorted(i for i, n in order_count.items() if n > 1),
        unknown_orders=sorted(i for i in traded if i not in posted),
        signals_posted=len(soak.signals), signals_202=sum(s.accepted for s in soak.signals),
        signals_202_never_traded=sum(1 for s in soak.signals if s.accepted and s.signal_id not in traded),
        reposts=soak.tally.reposts_after_202, replays=soak.tally.replays, conflicts=soak.tally.conflicts,
        unavailable=sum(s.unavailable for s in soak.intents), problems=problems,
        chaos_seconds=soak.chaos_seconds, settle_seconds=soak.settle_seconds,
        extra_apply_calls=sum(max(0, n - len(by_order_id.get(i, []))) for i, n in record["apply_calls"].items()),
        sandbox_clock_changes=sandbox_changes if cfg.clock_faults else 0,
        host_clock_steps=host_steps, back_jumps_skipped=soak.tally.back_jumps_skipped,
        operator_actions=len(actions), operator_wins=dict(Counter(a.kind for a in actions if a.won)),
        late_approvals=sum(1 for a in actions if a.won and a.kind == "late_approve"),
        operator_mismatches=operator_mismatches, policy_edits=list(soak.tally.policy_edits),
        refused_terminal=refused_terminal, freezes=len(freezes), freeze_violations=freeze_violations,
        reloads=list(soak.tally.reloads),
        double_details=[_explain(i, by_order_id[i], offsets_at, soak.clock, events) for i in doubles],
        breach_details=caps_found[:20])


def _explain(intent_id: str, withdrawals: list[dict], offsets_at: dict, clock: ClockBook,
             events: list[tuple[int, str]]) -> str:
    """A double with the faults around it: each apply's sandbox offset and the host offset
    in force, and what the soak did from 10 s before the first apply to the last."""
    received = sorted(float(w["receivedAt"]) for w in withdrawals)
    applies = ", ".join(f"applied under sandbox {(offsets_at.get(w['id']) or 0) / MINUTE_MS:+.1f} min"
                        for w in withdrawals)
    host = [c for c in clock.host if c.before_ms <= received[0]]
    host_text = f"host {host[-1].offset_ms / MINUTE_MS:+.1f} min" if host else "host +0"
    around = [text for at, text in events if received[0] - 10_000 <= at <= received[-1] + 1_000]
    return f"{intent_id}: {len(withdrawals)} withdrawals ({applies}; {host_text}); around: {around}"
