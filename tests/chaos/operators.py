"""The operator in the chaos soak (issue 10): real `treasuryctl approve|reject` processes
on the treasury's env file, racing its executor and poller (and each other).

Each intent the operator finds in `pending_approval` is given a fate when first seen:
approved soon, rejected soon, contested (approve and reject started at the same moment:
exactly one may win), or approved LATE (only once it has waited `late_after_s` of soak
time, across kills, clock steps and policy edits). Every action is recorded with its exit
status, so the judge can hold the ledger to what the operator was told.
"""

from __future__ import annotations

import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.clockbook import true_ms
from tests.support.procs import script

# treasuryctl's refusal line ("treasuryctl: ... [code]"), wherever it stands among the log
# lines on stderr (a log line may be written after it: the two are not ordered).
CODE = re.compile(r"^treasuryctl: .*\[([a-z_]+)\]\s*$", re.M)
CTL_TIMEOUT_S = 30.0


@dataclass
class Action:
    kind: str                 # approve, reject, late_approve, contest_approve, contest_reject
    intent_id: str
    started_ms: int           # true time
    ended_ms: int
    exit_code: int
    code: str | None          # treasuryctl's [code] when it refused
    output: str

    @property
    def won(self) -> bool:
        return self.exit_code == 0

    @property
    def verb(self) -> str:
        return "approve" if self.kind.endswith("approve") else "reject"


def run_ctl(verb: str, intent_id: str, env_path: Path, cwd: Path, kind: str) -> Action:
    started = true_ms()
    try:
        done = subprocess.run([script("treasuryctl"), verb, intent_id, "--env-file", str(env_path),
                               "--note", f"chaos soak {kind}"], cwd=cwd, capture_output=True, text=True,
                              timeout=CTL_TIMEOUT_S)
        code, output = done.returncode, (done.stdout + done.stderr).strip()
    except subprocess.TimeoutExpired as exc:
        code, output = -9, f"timed out after {CTL_TIMEOUT_S}s: {exc}"
    match = CODE.search(output)
    return Action(kind, intent_id, started, true_ms(), code, match.group(1) if match else None, output[-400:])


class Operator:
    """Acts on pending intents until the budget is spent or the soak says stop."""

    def __init__(self, soak, budget: int, late_after_s: float, seed: int) -> None:
        self.soak = soak
        self.budget = budget
        self.late_after_s = late_after_s
        self.rng = random.Random(seed)
        self.fates: dict[str, str] = {}
        self.first_seen: dict[str, float] = {}
        self.actions: list[Action] = []
        self.lock = threading.Lock()

    def spent(self) -> int:
        with self.lock:
            return len(self.actions)

    def run(self, over) -> None:
        """`over()`: the chaos phase has ended. Bounded: at most `budget` actions, and each
        round waits a bounded time."""
        while not over() and self.spent() < self.budget:
            self.soak.stop.wait(self.rng.uniform(0.3, 1.2))
            if self.soak.hold.is_set() or over():
                continue
            due = self._due()
            if due is None:
                continue
            intent_id, fate = due
            if fate == "contest" and self.budget - self.spent() >= 2:
                self._contest(intent_id)
            elif fate != "contest":
                self._record(run_ctl("reject" if fate == "reject" else "approve", intent_id,
                                     self.soak.treasury.env_path, self.soak.treasury.dir, fate))
            self.fates[intent_id] = "done"

    def _due(self) -> tuple[str, str] | None:
        pending = [row[0] for row in self.soak.treasury.query(
            "SELECT intent_id FROM intents WHERE status = 'pending_approval' ORDER BY seq")]
        now = time.monotonic()
        for intent_id in pending:
            if intent_id not in self.fates:
                self.first_seen[intent_id] = now
                roll = self.rng.random()
                self.fates[intent_id] = ("late_approve" if roll < 0.4 else "approve" if roll < 0.7
                                         else "reject" if roll < 0.85 else "contest")
        ready = [i for i in pending if self.fates.get(i) not in (None, "done", "late_approve")]
        late = [i for i in pending if self.fates.get(i) == "late_approve"
                and now - self.first_seen[i] >= self.late_after_s]
        choice = late or ready
        if not choice:
            return None
        intent_id = self.rng.choice(choice)
        return intent_id, self.fates[intent_id]

    def _contest(self, intent_id: str) -> None:
        """Approve and reject at the same moment, two processes: one wins, one is refused."""
        results: list[Action] = []
        env, cwd = self.soak.treasury.env_path, self.soak.treasury.dir
        threads = [threading.Thread(target=lambda v=verb: results.append(
            run_ctl(v, intent_id, env, cwd, f"contest_{v}"))) for verb in ("approve", "reject")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(CTL_TIMEOUT_S + 5)
        for action in results:
            self._record(action)

    def _record(self, action: Action) -> None:
        with self.lock:
            self.actions.append(action)


@dataclass
class FreezeSpell:
    """One freeze by the soak's operator and the unfreeze that ended it (true times)."""

    freeze: Action
    unfreeze: Action | None


class Freezer:
    """Issue 13: the operator freezes the treasury at random moments of the chaos and lifts
    the freeze a little later, with real `treasuryctl freeze|unfreeze` processes racing the
    executor, the kills and the clock steps. Every freeze is lifted before the soak settles
    (retried, bounded), so nothing accepted waits for ever; the judge checks the ledger's
    own record that nothing was submitted while frozen."""

    def __init__(self, soak, budget: int, seed: int) -> None:
        self.soak = soak
        self.budget = budget
        self.rng = random.Random(seed)
        self.spells: list[FreezeSpell] = []

    def _ctl(self, *args: str, kind: str) -> Action:
        started = true_ms()
        try:
            done = subprocess.run([script("treasuryctl"), *args, "--env-file", str(self.soak.treasury.env_path)],
                                  cwd=self.soak.treasury.dir, capture_output=True, text=True, timeout=CTL_TIMEOUT_S)
            code, output = done.returncode, (done.stdout + done.stderr).strip()
        except subprocess.TimeoutExpired as exc:
            code, output = -9, f"timed out after {CTL_TIMEOUT_S}s: {exc}"
        match = CODE.search(output)
        return Action(kind, "", started, true_ms(), code, match.group(1) if match else None, output[-400:])

    def run(self, over) -> None:
        while not over() and len(self.spells) < self.budget:
            self.soak.stop.wait(self.rng.uniform(2.0, 6.0))
            if over():
                break
            number = len(self.spells) + 1
            frozen = self._ctl("freeze", "--reason", f"chaos soak freeze {number}", "--operator", "chaos",
                               kind="freeze")
            spell = FreezeSpell(frozen, None)
            self.spells.append(spell)
            self.soak.tally.event(f"freeze {number}: exit {frozen.exit_code}")
            self.soak.stop.wait(self.rng.uniform(0.5, 3.0))
            spell.unfreeze = self._unfreeze(number)

    def _unfreeze(self, number: int) -> Action:
        """Until it is lifted (or there was none: `not_frozen`), at most 10 tries."""
        action = None
        for _ in range(10):
            action = self._ctl("unfreeze", "--note", f"chaos soak unfreeze {number}", kind="unfreeze")
            if action.exit_code == 0 or action.code == "not_frozen":
                break
            time.sleep(0.5)
        self.soak.tally.event(f"unfreeze {number}: exit {action.exit_code}")
        return action
