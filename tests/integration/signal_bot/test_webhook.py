"""The webhook over real HTTP on a free loopback port, in-process."""

from __future__ import annotations

import http.client
import json
import logging
import queue

import pytest
import requests

from signal_bot.webhook import MAX_BODY_BYTES, WebhookServer, queue_submitter, signature_of

SECRET = "test-secret-not-real-0001"
SIGNAL = {"id": "wh-1", "symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": "0.01"}


@pytest.fixture
def served():
    signals: queue.Queue = queue.Queue(maxsize=3)
    server = WebhookServer("127.0.0.1", 0, SECRET, queue_submitter(signals)).start()
    session = requests.Session()
    yield f"http://127.0.0.1:{server.port}", signals, session
    session.close()
    server.stop()


def post(session, base, body, headers=None, path="/signal"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return session.post(base + path, data=data, headers=headers or {}, timeout=5)


def test_a_signal_with_the_passphrase_is_accepted_and_queued(served):
    """202 with the id; the queued Signal has no passphrase."""
    base, signals, session = served
    answer = post(session, base, {**SIGNAL, "passphrase": SECRET})
    assert answer.status_code == 202 and answer.json() == {"accepted": True, "id": "wh-1"}
    queued = signals.get_nowait()
    assert queued.side == "BUY" and SECRET not in repr(queued)


def test_a_signal_signed_with_x_signature_is_accepted(served):
    """The HMAC-SHA256 of the raw body authenticates without a passphrase."""
    base, signals, session = served
    body = json.dumps(SIGNAL).encode()
    answer = post(session, base, body, {"X-Signature": signature_of(SECRET, body)})
    assert answer.status_code == 202 and signals.qsize() == 1


@pytest.mark.parametrize("body, headers", [
    ({**SIGNAL, "passphrase": "wrong-secret-not-real-0002"}, {}),
    (SIGNAL, {}),
    ({**SIGNAL, "passphrase": 12345}, {}),
    (json.dumps(SIGNAL), {"X-Signature": "00" * 32}),
    (json.dumps(SIGNAL), {"X-Signature": signature_of("another-secret-not-real", json.dumps(SIGNAL).encode())}),
])
def test_a_bad_secret_is_401_and_queues_nothing(served, body, headers):
    """Wrong or missing passphrase, or a bad signature: 401, nothing queued."""
    base, signals, session = served
    answer = post(session, base, body, headers)
    assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    assert signals.empty()


def test_bad_json_is_400(served):
    """A body that is not one JSON object: 400 naming the problem."""
    base, signals, session = served
    for body in ("{not json", "[1, 2]"):
        answer = post(session, base, body)
        assert answer.status_code == 400 and answer.json()["error"] == "bad_json"
    assert signals.empty()


def test_a_bad_field_is_422_naming_it(served):
    """An authenticated signal with a bad field: 422 with the field's name."""
    base, signals, session = served
    answer = post(session, base, {**SIGNAL, "quantity": 0.01, "passphrase": SECRET})
    assert answer.status_code == 422
    assert answer.json()["field"] == "quantity" and answer.json()["error"] == "invalid_signal"
    assert signals.empty()


def test_a_body_over_64_kib_is_413_judged_from_content_length(served):
    """Content-Length over the limit is refused before the body is read."""
    base, signals, _ = served
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.putrequest("POST", "/signal")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()  # no body is ever sent: the answer must not wait for it
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"] == "too_large"
    conn.close()
    assert signals.empty()


def test_wrong_path_is_404_and_wrong_method_is_405(served):
    """Only POST /signal exists."""
    base, _, session = served
    assert post(session, base, SIGNAL, path="/other").status_code == 404
    assert session.get(base + "/signal", timeout=5).status_code == 405
    assert session.get(base + "/", timeout=5).status_code == 404


def test_a_full_queue_answers_503_at_once(served):
    """With the bounded queue full, the next valid signal is 503, not a wait."""
    base, signals, session = served
    for n in range(3):
        assert post(session, base, {**SIGNAL, "id": f"q{n}", "passphrase": SECRET}).status_code == 202
    answer = post(session, base, {**SIGNAL, "id": "q3", "passphrase": SECRET})
    assert answer.status_code == 503 and answer.json()["error"] == "queue_full"
    assert signals.qsize() == 3


def test_keep_alive_serves_many_requests_on_one_connection(served):
    """HTTP/1.1 keep-alive: errors and successes on one connection."""
    base, signals, _ = served
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    for n, status in ((0, 202), (1, 401), (2, 202)):
        body = {**SIGNAL, "id": f"k{n}", "passphrase": SECRET if status == 202 else "nope-not-real"}
        conn.request("POST", "/signal", body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == status
    conn.close()
    assert signals.qsize() == 2


def test_the_secret_never_reaches_a_log_line(served, caplog):
    """Neither the passphrase nor the secret is logged, on success or refusal."""
    base, _, session = served
    with caplog.at_level(logging.DEBUG):
        post(session, base, {**SIGNAL, "passphrase": SECRET})
        post(session, base, {**SIGNAL, "passphrase": SECRET, "quantity": "x"})
        post(session, base, {**SIGNAL, "passphrase": "almost-" + SECRET})
    text = caplog.text + " ".join(str(getattr(r, "fields", "")) for r in caplog.records)
    assert SECRET not in text


# -- with the bot's real intake: journal (SQLite, fsync), then queue ----------------------------

@pytest.fixture
def journaled(tmp_path):
    from common.clock import SystemClock
    from signal_bot.intake import Intake
    from signal_bot.state import StateStore
    intake = Intake(StateStore(tmp_path / "state.sqlite", shared=True).open(), "live", 2, SystemClock())
    server = WebhookServer("127.0.0.1", 0, SECRET, intake.submit).start()
    session = requests.Session()
    reader = StateStore(tmp_path / "state.sqlite").open()
    yield f"http://127.0.0.1:{server.port}", intake, session, reader
    reader.close()
    session.close()
    server.stop()
    intake.close()


def test_a_202_means_the_signal_is_already_journaled(journaled):
    """When the client holds the 202, the row is committed (another connection sees it) and queued."""
    base, intake, session, reader = journaled
    answer = post(session, base, {**SIGNAL, "passphrase": SECRET})
    assert answer.status_code == 202 and answer.json() == {"accepted": True, "id": "wh-1"}
    assert reader.signal("live", "wh-1").state == "received"
    assert intake.queue.get_nowait().signal.id == "wh-1"


def test_a_repeated_id_is_202_again_with_duplicate_noted(journaled):
    """The same id again: 202 {"duplicate": true}; nothing queued a second time."""
    base, intake, session, _ = journaled
    post(session, base, {**SIGNAL, "passphrase": SECRET})
    answer = post(session, base, {**SIGNAL, "quantity": "5", "passphrase": SECRET})
    assert answer.status_code == 202
    assert answer.json() == {"accepted": True, "id": "wh-1", "duplicate": True}
    assert intake.queue.qsize() == 1


def test_a_full_queue_is_503_and_journals_nothing(journaled):
    """503 queue_full is decided before the journal: the refused id is not spent."""
    base, intake, session, reader = journaled
    for n in range(2):
        assert post(session, base, {**SIGNAL, "id": f"f{n}", "passphrase": SECRET}).status_code == 202
    answer = post(session, base, {**SIGNAL, "id": "f2", "passphrase": SECRET})
    assert answer.status_code == 503 and answer.json()["error"] == "queue_full"
    assert not reader.seen("live", "f2")


def test_a_signal_that_cannot_be_journaled_is_503_and_not_accepted(journaled, tmp_path):
    """The journal write fails: 503 unavailable, the server keeps serving, nothing queued."""
    import sqlite3
    base, intake, session, _ = journaled
    db = sqlite3.connect(tmp_path / "state.sqlite")
    db.execute("CREATE TRIGGER no_room BEFORE INSERT ON signals WHEN NEW.id = 'boom'"
               " BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    db.close()
    answer = post(session, base, {**SIGNAL, "id": "boom", "passphrase": SECRET})
    assert answer.status_code == 503 and answer.json()["error"] == "unavailable"
    assert intake.queue.empty()
    assert post(session, base, {**SIGNAL, "id": "after", "passphrase": SECRET}).status_code == 202


def test_after_accept_runs_after_the_202_and_its_failure_changes_no_answer(tmp_path):
    """The hook (the bot trades there) runs once per ACCEPTED signal, after the 202 is written (a hook
    that waits for the client to hold its 202 does not stall it); if it raises, the next request is served."""
    import threading
    signals: queue.Queue = queue.Queue(maxsize=10)
    calls: list[object] = []
    client_has_202 = threading.Event()

    def after_accept() -> None:
        calls.append(signals.qsize() if client_has_202.wait(5) else "202 not yet sent")
        raise RuntimeError("boom")
    server = WebhookServer("127.0.0.1", 0, SECRET, queue_submitter(signals), after_accept=after_accept).start()
    session = requests.Session()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert post(session, base, {**SIGNAL, "passphrase": SECRET}).status_code == 202
        client_has_202.set()
        assert post(session, base, {**SIGNAL, "passphrase": "bad-secret-not-real"}).status_code == 401
        assert post(session, base, {**SIGNAL, "id": "wh-2", "passphrase": SECRET}).status_code == 202
    finally:
        session.close()
        server.stop()
    assert calls == [1, 2]
