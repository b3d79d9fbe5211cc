"""The treasury's event feed: log every withdrawal event, pass it on (events are hints only)."""

from __future__ import annotations

import threading
from typing import Any, Callable

from common import messages
from common.logs import get_logger

log = get_logger("signal.events")


class EventListener:
    """A thread over common.intent_client.EventSubscriber; `make_subscriber` runs in the thread."""

    def __init__(self, make_subscriber: Callable[[], Any],
                 on_event: Callable[[messages.WithdrawalEvent], None] = lambda e: None,
                 poll_seconds: float = 0.2) -> None:
        self._make_subscriber = make_subscriber
        self._on_event = on_event
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "EventListener":
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def _run(self) -> None:
        subscriber = self._make_subscriber()
        self._ready.set()
        try:
            while not self._stopping.is_set():
                event = subscriber.receive(self._poll)
                if event is None:
                    continue
                log.info("treasury_event", intent_id=event.intent_id, status=event.status,
                         withdrawal_id=event.withdrawal_id, tx_id=event.tx_id, at=event.at)
                self._on_event(event)
        except Exception:  # noqa: BLE001
            log.error("event_listener_crashed", exc_info=True)
        finally:
            subscriber.close()

    def stop(self, timeout: float = 3.0) -> bool:
        self._stopping.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
