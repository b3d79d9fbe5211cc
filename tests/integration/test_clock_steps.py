"""A host clock step neither reopens used window capacity nor refuses fresh intents
(issue 10 defect 4; DESIGN section 9), and a disagreement with the exchange is alerted once.

The real intent server on real CURVE sockets with a real ledger file. The host clock is a
hand-driven FakeClock whose wall time can step without its monotonic time moving (as
NTP, an operator or a VM resume step it); "true time" is the exchange's clock, which the
monotonic clock follows. Intents are created at true time, as a signal bot on a host with
a right clock creates them.
"""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from common import messages
from common.clock import Clock, FakeClock
from tests.support.ledger_peek import peek
from tests.support.treasury import InProcessServer, make_curve, open_ledger, policy, policy_text
from treasury_bot.ledger import Ledger
from treasury_bot.trusted_clock import META_OFFSET_MS, AnchoredClock, ClockWatch

T0 = 1_700_000_000_000
HOUR_MS = 3_600_000
STEP_MS = 6 * HOUR_MS

# A 2 h window with a cap of 5,000 and at most 7 transfers an hour.
TIGHT = policy_text(window_hours=2, per_hour=7)


class Exchange:
    """The exchange's clock: true time, which the host's monotonic clock follows."""

    def __init__(self, host: FakeClock) -> None:
        self.host = host
        self.mono0 = host.monotonic()

    def time(self) -> int:
        return T0 + int(round((self.host.monotonic() - self.mono0) * 1000))


class Treasury:
    def __init__(self, tmp_path, clock: Clock) -> None:
        self.server = InProcessServer(tmp_path, make_curve(tmp_path), policy(TIGHT), clock=clock).start()
        self.ledger: Ledger = open_ledger(self.server.ledger_path)

    def send(self, intent_id: str, amount: str, created_at: int) -> messages.Decision:
        with self.server.client("signal") as client:
            return client.send_intent(messages.TransferIntent(
                intent_id=intent_id, coin="USDT", network="TRX", destination="cold-wallet",
                amount=amount, reason="sweep", created_at=created_at))

    def fill(self, created_at: int) -> None:
        """7 transfers, 5,000 in all: the hour and the window are both full."""
        amounts = ["800"] * 6 + ["200"]
        assert [self.send(f"fill-{n}", a, created_at).outcome for n, a in enumerate(amounts)] == ["accepted"] * 7

    def close(self) -> None:
        self.ledger.close()
        self.server.close()


@pytest.fixture
def host() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def anchored(tmp_path, host) -> Iterator[tuple[Treasury, AnchoredClock, Exchange]]:
    exchange = Exchange(host)
    clock = AnchoredClock(host, exchange.time)
    clock.measure()
    treasury = Treasury(tmp_path, clock)
    yield treasury, clock, exchange
    treasury.close()


@pytest.mark.parametrize("step_ms", [STEP_MS, -STEP_MS])
def test_a_host_clock_step_and_its_correction_change_nothing_the_treasury_decides(anchored, host, step_ms):
    """Full hour and window, then a ±6 h host step: fresh intents are decided on time (not
    stale_intent) and the used capacity stays used; after the correction, the same; as true
    time passes, the hour and then the window reopen, and only then."""
    treasury, clock, exchange = anchored
    treasury.fill(exchange.time())
    host.step_wall(step_ms)
    reply = treasury.send("during-step", "10", exchange.time())
    assert (reply.outcome, reply.reason_code) == ("rejected", "too_many_transfers")
    host.advance(60)
    host.step_wall(-step_ms)                       # the correction
    reply = treasury.send("after-correction", "10", exchange.time())
    assert (reply.outcome, reply.reason_code) == ("rejected", "too_many_transfers")
    host.advance(3600)                             # an hour of true time: the hour reopens
    host.step_wall(step_ms)
    reply = treasury.send("next-hour", "10", exchange.time())
    assert (reply.outcome, reply.reason_code) == ("rejected", "over_window_limit")
    host.advance(3600)                             # two hours: the window reopens
    assert treasury.send("next-window", "10", exchange.time()).outcome == "accepted"
    stamps = [row[0] for row in peek(treasury.ledger, "SELECT at FROM transitions ORDER BY seq")]
    assert stamps == sorted(stamps) and max(stamps) <= exchange.time()


def test_a_disagreement_is_alerted_once_per_episode_and_its_offset_kept(anchored, host):
    """More than 60 s apart: one clock_disagreement alert for the whole episode; the offset
    (exchange minus host) is in the ledger meta for treasuryctl; back in line, no alert."""
    treasury, clock, _ = anchored
    watch = ClockWatch(clock, treasury.ledger)

    def clock_alerts() -> list[tuple]:
        return peek(treasury.ledger, "SELECT kind, severity FROM alert_outbox WHERE kind = 'clock_disagreement'")

    watch.check_once()
    assert clock_alerts() == [] and treasury.ledger.get_meta(META_OFFSET_MS) == "0"
    host.step_wall(STEP_MS)
    watch.check_once()
    host.advance(60)
    watch.check_once()
    assert clock_alerts() == [("clock_disagreement", "WARNING")]
    assert treasury.ledger.get_meta(META_OFFSET_MS) == str(-STEP_MS)
    host.step_wall(-STEP_MS)
    watch.check_once()
    assert treasury.ledger.get_meta(META_OFFSET_MS) == "0"
    host.step_wall(-90_000)                        # a new episode, the other way
    watch.check_once()
    assert clock_alerts() == [("clock_disagreement", "WARNING")] * 2


def test_the_clock_watch_survives_its_own_failures_and_backs_off(anchored, host):
    """An unreachable exchange: each failure is caught and logged, and the next try waits
    longer (60, 120, 240 s, then at most 300 s)."""
    treasury, clock, _ = anchored
    watch = ClockWatch(clock, treasury.ledger, every_s=60.0, max_backoff_s=300.0)

    def unreachable() -> int:
        raise ConnectionError("exchange down")

    clock._exchange_time = unreachable
    stop = threading.Event()
    delays = []
    real_wait = stop.wait

    class CountingStop:
        def is_set(self) -> bool:
            return stop.is_set()

        def wait(self, seconds: float) -> bool:
            delays.append(seconds)
            if len(delays) >= 5:
                stop.set()
            return real_wait(0)

    watch.run(CountingStop())  # type: ignore[arg-type]
    assert delays == [60.0, 60.0, 120.0, 240.0, 300.0]
    assert watch.failures == 4


def test_after_the_host_clock_steps_back_fresh_intents_are_not_refused_for_the_steps_length(tmp_path, host):
    """With the host clock itself as the server's clock (an injected one), a +6 h step and
    its correction: the intents created after the correction are fresh and accepted. The
    server used to pin decision time to the latest seen, refusing them all as stale for 6 h;
    it now recounts from the ledger instead, so the usage stamped during the step still counts."""
    treasury = Treasury(tmp_path, host)
    try:
        assert treasury.send("before", "800", host.now_ms()).outcome == "accepted"
        host.step_wall(STEP_MS)
        assert treasury.send("during", "800", host.now_ms()).outcome == "accepted"
        host.step_wall(-STEP_MS)
        replies = [treasury.send(f"after-{n}", a, host.now_ms()) for n, a in enumerate(["800"] * 5 + ["10"])]
        assert [r.reason_code for r in replies[:4]] == [None] * 4
        # 2 + 4 of 800 = 4,800 used; the 5th 800 would exceed the cap: the stamps from
        # during the step still count although they are "in the future".
        assert (replies[4].outcome, replies[4].reason_code) == ("rejected", "over_window_limit")
        assert replies[5].outcome == "accepted"
    finally:
        treasury.close()
