"""The intent client the signal bot uses: common.intent_client.IntentClient, made safe when the treasury is down.

Workaround (to drop once common/intent_client.py has it): IntentClient.request calls a
blocking `send` on a REQ socket with IMMEDIATE=1; with no treasury connected, libzmq
has no pipe to queue on and `send` blocks for ever, so an absent treasury would hang
the sweep worker and the `signal-bot intent` command. Here the send waits for POLLOUT
at most `timeout`; a link that does not come up counts as a try without a reply
(close, reopen, try again), exactly like a lost reply. The frame is the same on
every try, so a resend is the same intent.
"""

from __future__ import annotations

from typing import Callable

import zmq

from common import messages
from common.intent_client import IntentClient, TreasuryUnavailable
from common.logs import get_logger

log = get_logger("signal.treasury_link")


class TreasuryClient(IntentClient):
    def request(self, message, *, should_stop: Callable[[], bool] | None = None):
        frame = messages.encode(message)
        wait_ms = int(self.timeout * 1000)
        for attempt in range(1, self.retries + 1):
            if should_stop is not None and should_stop():
                break
            if self._socket is None:
                self._socket = self._open()
            if self._socket.poll(wait_ms, zmq.POLLOUT):
                self._socket.send(frame, zmq.NOBLOCK)
                if self._socket.poll(wait_ms, zmq.POLLIN):
                    return messages.decode_reply(self._socket.recv())
                what = "no_reply"
            else:
                what = "no_link"
            log.warning("treasury_no_reply", attempt=attempt, retries=self.retries, endpoint=self.endpoint,
                        why=what, request=getattr(message, "intent_id", type(message).__name__))
            self._close()
        raise TreasuryUnavailable(f"no reply from {self.endpoint} after {self.retries} tries")
