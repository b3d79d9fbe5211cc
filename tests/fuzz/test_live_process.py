"""One bounded fuzz run against the real `treasury-bot run` process (and a real sandbox),
plus the wire's security checks (issue 7, item 5) against that same process.

The policy makes every admissible intent wait for approval, so the executor never runs and
the decider is the only writer of the journal tables counted before and after each frame.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest
import zmq
from hypothesis import given

from common import __version__, messages
from common.curve import configure_client, generate, load_key_pair
from tests.fuzz import frames
from tests.fuzz import wire_model as model
from tests.fuzz.frames import CLIENTS, Case, ci_settings
from tests.fuzz.harness import Judge, LedgerCounter, WireLink
from tests.support.sandbox import DEMO_TRX_ADDRESS, DEMO_TRX_HOT_ADDRESS, sandbox_process
from tests.support.treasury_proc import TreasuryProcess

pytestmark = pytest.mark.e2e

QUIET = 0.3  # seconds of silence that count as "no reply"


@pytest.fixture(scope="module")
def treasury(tmp_path_factory) -> Iterator[tuple[TreasuryProcess, Judge]]:
    tmp = tmp_path_factory.mktemp("fuzz-process")
    with sandbox_process(tmp) as sandbox:
        process = TreasuryProcess(tmp, sandbox, policy_text=model.pending_only_policy_toml(
            DEMO_TRX_ADDRESS, DEMO_TRX_HOT_ADDRESS)).start()
        link = WireLink(process.intent_endpoint, {name: process.curve.keys(name) for name in CLIENTS},
                        process.curve.server_public)
        ledger = LedgerCounter(process.ledger_path)
        judge = Judge(link, ledger, lambda: int(time.time() * 1000), exact=False, quiet_wait=QUIET)
        try:
            yield process, judge
        finally:
            link.close()
            ledger.close()
            process.terminate()


def silent(sock: zmq.Socket, parts: list[bytes]) -> bool:
    """True when sending `parts` gets no reply within QUIET seconds."""
    sock.setsockopt(zmq.LINGER, 0)
    try:
        try:
            sock.send_multipart(parts, zmq.NOBLOCK)
        except zmq.Again:
            return True  # not even connected: certainly no reply
        return sock.poll(int(QUIET * 1000), zmq.POLLIN) == 0
    finally:
        sock.close(linger=0)


def test_control_a_listed_key_on_the_same_path_is_answered(treasury):
    """The control for the two tests below: the same raw socket with a listed key gets a pong."""
    process, _ = treasury
    sock = zmq.Context.instance().socket(zmq.DEALER)
    configure_client(sock, process.curve.keys("signal"), process.curve.server_public)
    sock.connect(process.intent_endpoint)
    sock.send_multipart([b"", messages.encode(messages.Ping())])
    try:
        assert sock.poll(5000, zmq.POLLIN)
        assert messages.decode_reply(sock.recv_multipart()[1]) == messages.Pong(version=__version__)
    finally:
        sock.close(linger=0)


def test_a_plain_text_client_gets_no_reply(treasury):
    """A client without CURVE gets no connection, hence no reply, and nothing is journaled."""
    process, judge = treasury
    before = judge.ledger.counts()
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.connect(process.intent_endpoint)
    assert silent(sock, [b"", messages.encode(messages.Ping())])
    assert judge.ledger.counts() == before


@pytest.mark.parametrize("who", ["intruder", "stranger", "wrong-server-key"])
def test_a_key_outside_the_allow_list_gets_no_reply(treasury, tmp_path, who):
    """The unlisted `intruder`, a key made just now, or a client pinned to another server key: nothing."""
    process, judge = treasury
    before = judge.ledger.counts()
    server_public = process.curve.server_public
    if who == "intruder":
        keys = process.curve.keys("intruder")
    elif who == "stranger":
        keys = load_key_pair(generate(tmp_path, "stranger")[1], "stranger")
    else:
        keys = process.curve.keys("signal")
        server_public = load_key_pair(generate(tmp_path, "fake-server")[1], "fake").public
    sock = zmq.Context.instance().socket(zmq.DEALER)
    configure_client(sock, keys, server_public)
    sock.connect(process.intent_endpoint)
    intent = messages.TransferIntent(intent_id=f"sec-{who}", coin="USDT", network="TRX",
                                     destination=model.COLD, amount="20", reason="x",
                                     created_at=int(time.time() * 1000))
    assert silent(sock, [b"", messages.encode(intent)])
    assert judge.ledger.counts() == before


def test_oversize_frames_are_dropped_and_extra_frames_are_malformed(treasury):
    """Over 64 KiB: dropped, no reply; two payload frames: error malformed (DESIGN section 2);
    without the delimiter: dropped. Nothing journaled, and the client is served right after."""
    _, judge = treasury
    ping = messages.encode(messages.Ping())
    for case in (Case("huge", (b"\x80" + b"x" * model.MAX_FRAME_BYTES,)),
                 Case("multi_frame", (ping, ping)),
                 Case("multi_frame", (ping, b"")),
                 Case("no_delimiter", (ping,), delimiter=False)):
        problems = judge.run(case)
        assert not problems, "\n".join(problems)


def test_a_bounded_fuzz_run_against_the_real_process(treasury):
    """Every category against `treasury-bot run`: typed errors, decisions journaled once,
    nothing journaled for refused frames, a ping answered after each bad one."""
    process, judge = treasury

    @ci_settings(max_examples=300)
    @given(case=frames.any_case(int(time.time() * 1000), dropped_weight=1))
    def run(case):
        problems = judge.run(case)
        assert not problems, "\n".join(problems)
    run()
    assert process.proc.alive()
    assert judge.link.request("other", messages.Ping()) == messages.Pong(version=__version__)
    assert judge.tally.bad_ledger_writes == 0 and not judge.tally.problems
    log = process.log()
    for alarm in ("Traceback", "thread_crashed", "decision_batch_failed"):
        assert alarm not in log, log[-3000:]
