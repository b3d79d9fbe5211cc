"""The treasury's CURVE key rotation with an overlap, end to end (issue 16 item 3): a real
treasury serving its old key's endpoint and TREASURY_INTENT_ENDPOINT_NEXT with a new pair;
two client processes (signal, other) move to the new endpoint one after the other while
intents flow; every intent is decided once and withdrawn once on the sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from common.curve import generate
from tests.support.ports import free_port
from tests.support.procs import Proc
from tests.support.sandbox import Sandbox
from tests.support.treasury_proc import TreasuryProcess

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
COUNT = 3


def rotating_treasury(tmp_path: Path, sandbox: Sandbox) -> tuple[TreasuryProcess, Path, str]:
    keys = tmp_path / "next-keys"
    public, secret = generate(keys, "treasury-next")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    treasury = TreasuryProcess(tmp_path, sandbox, extra_env={
        "TREASURY_INTENT_ENDPOINT_NEXT": endpoint,
        "TREASURY_EVENT_ENDPOINT_NEXT": f"tcp://127.0.0.1:{free_port()}",
        "TREASURY_CURVE_SECRET_FILE_NEXT": str(secret)})
    return treasury, public, endpoint


def client_process(tmp_path: Path, treasury: TreasuryProcess, name: str, new_public: Path,
                   new_endpoint: str) -> tuple[Proc, Path]:
    move = tmp_path / f"move-{name}"
    proc = Proc(name, [sys.executable, "-m", "tests.support.rotation_client", name,
                       str(treasury.curve.client_secrets[name]), treasury.intent_endpoint,
                       str(treasury.curve.treasury_public), new_endpoint, str(new_public), str(move),
                       str(COUNT)], tmp_path / f"{name}.log", cwd=REPO)
    return proc.start(), move


def decided(proc: Proc) -> list[tuple[str, str, str]]:
    return [tuple(line.split()[1:4]) for line in proc.log().splitlines() if line.startswith("decided ")]


def test_two_clients_move_to_the_new_key_one_after_the_other_with_nothing_lost_or_doubled(tmp_path, sandbox):
    """signal moves while other stays on the old key, then other moves; each resends its last
    intent on the new endpoint and gets its first decision; every intent completes, once."""
    treasury, new_public, new_endpoint = rotating_treasury(tmp_path, sandbox)
    treasury.start()
    try:
        assert "intent_endpoint_next" in treasury.log()
        first, first_move = client_process(tmp_path, treasury, "signal", new_public, new_endpoint)
        second, second_move = client_process(tmp_path, treasury, "other", new_public, new_endpoint)
        for proc in (first, second):
            proc.wait_for_log("waiting", timeout=30)
        first_move.touch()
        first.wait_for_log("done", timeout=30)
        assert first.wait_exit(10) == 0, first.log()
        assert "moved" not in second.log()  # still on the old key while the first moved
        second_move.touch()
        second.wait_for_log("done", timeout=30)
        assert second.wait_exit(10) == 0, second.log()
        replies = decided(first) + decided(second)
        assert all(outcome == "accepted" for _, _, outcome in replies), replies
        ids = {intent_id for intent_id, _, _ in replies}
        assert len(ids) == 4 * COUNT and len(replies) == 4 * COUNT + 2  # two replays across the move
        for name in ("signal", "other"):
            on_new = [i for i, where, _ in replies if where == "new" and i.startswith(name)]
            assert on_new[0] == f"{name}-{COUNT - 1}"  # its last old intent, resent on the new key
        for intent_id in ids:
            treasury.wait_status(intent_id, "completed", timeout=60)
        assert treasury.query("SELECT COUNT(*) FROM intents") == [(4 * COUNT,)]
        calls = sandbox.apply_calls()
        assert len(calls) == 4 * COUNT and set(calls.values()) == {1}, calls
    finally:
        assert treasury.terminate() == 0


def test_a_next_secret_equal_to_the_current_one_stops_the_start(tmp_path, sandbox):
    """The second endpoint is for a NEW pair: the same pair twice is a config error (exit 2)."""
    treasury = TreasuryProcess(tmp_path, sandbox)
    env = dict(treasury.env, TREASURY_INTENT_ENDPOINT_NEXT=f"tcp://127.0.0.1:{free_port()}",
               TREASURY_EVENT_ENDPOINT_NEXT=f"tcp://127.0.0.1:{free_port()}",
               TREASURY_CURVE_SECRET_FILE_NEXT=str(treasury.curve.treasury_secret))
    treasury.write_env(env)
    treasury.start(wait_ready=False)
    assert treasury.proc.wait_exit(30) == 2, treasury.log()[-3000:]
    assert "same key pair" in treasury.log()
