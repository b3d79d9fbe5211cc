"""The intake (journal, then queue) on a real SQLite file: accepted means committed; refused means untouched."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from common.clock import FakeClock
from signal_bot.intake import Intake
from signal_bot.signals import Signal
from signal_bot.state import StateStore
from signal_bot.webhook import ACCEPTED, DUPLICATE, QUEUE_FULL


def signal(id_: str) -> Signal:
    return Signal(id=id_, symbol="BTCUSDT", side="BUY", type="MARKET", quote_amount="25")


@pytest.fixture
def intake(tmp_path):
    made = Intake(StateStore(tmp_path / "state.sqlite", shared=True).open(), "live", 3, FakeClock())
    yield made
    made.close()


def other_connection(tmp_path) -> StateStore:
    return StateStore(tmp_path / "state.sqlite").open()


def test_an_accepted_signal_is_committed_before_submit_returns_and_then_queued(intake, tmp_path):
    """ACCEPTED: another connection (a restarted process) already sees the row as received."""
    assert intake.submit(signal("a1")) == ACCEPTED
    reader = other_connection(tmp_path)
    row = reader.signal("live", "a1")
    reader.close()
    assert (row.state, row.quote_order_qty, row.seq) == ("received", "25", 1)
    assert intake.queue.get_nowait().signal.id == "a1"


def test_a_repeated_id_is_a_duplicate_and_changes_nothing(intake, tmp_path):
    """DUPLICATE: not queued again, the first row untouched (even once it is decided)."""
    intake.submit(signal("a1"))
    intake.queue.get_nowait()
    assert intake.submit(Signal(id="a1", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="1")) == DUPLICATE
    assert intake.queue.empty()
    reader = other_connection(tmp_path)
    assert reader.signal("live", "a1").side == "BUY"
    reader.close()


def test_a_full_queue_refuses_before_journaling(intake, tmp_path):
    """QUEUE_FULL journals nothing: the id is not spent and is accepted once there is room."""
    for n in range(3):
        assert intake.submit(signal(f"q{n}")) == ACCEPTED
    assert intake.submit(signal("q3")) == QUEUE_FULL
    reader = other_connection(tmp_path)
    assert not reader.seen("live", "q3")
    intake.queue.get_nowait()
    assert intake.submit(signal("q3")) == ACCEPTED and reader.seen("live", "q3")
    reader.close()


def test_a_journal_that_fails_raises_and_queues_nothing(intake, tmp_path):
    """The SQLite write fails (a trigger stands in for a full disk): the error reaches the webhook, nothing queued."""
    db = sqlite3.connect(tmp_path / "state.sqlite")
    db.execute("CREATE TRIGGER no_room BEFORE INSERT ON signals WHEN NEW.id = 'boom'"
               " BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    db.close()
    with pytest.raises(sqlite3.DatabaseError):
        intake.submit(signal("boom"))
    assert intake.queue.empty()
    assert intake.submit(signal("fine")) == ACCEPTED       # the connection is usable afterwards


def test_concurrent_submits_journal_each_id_once_in_queue_order(tmp_path):
    """Eight threads, overlapping ids: each id journaled once, and the queue order is the seq order."""
    intake = Intake(StateStore(tmp_path / "state.sqlite", shared=True).open(), "live", 1000, FakeClock())
    outcomes: list[str] = []
    lock = threading.Lock()

    def post(start: int) -> None:
        for n in range(start, start + 40):
            outcome = intake.submit(signal(f"c{n % 100}"))
            with lock:
                outcomes.append(outcome)
    threads = [threading.Thread(target=post, args=(k * 20,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queued = []
    while not intake.queue.empty():
        queued.append(intake.queue.get_nowait().signal.id)
    intake.close()
    reader = other_connection(tmp_path)
    by_seq = [r.id for r in reader.signals()]
    reader.close()
    assert outcomes.count(ACCEPTED) == len(set(queued)) == len(queued) == 100
    assert outcomes.count(DUPLICATE) == 8 * 40 - 100
    assert queued == by_seq
