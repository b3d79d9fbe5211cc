"""One client process for the CURVE rotation e2e test (issue 16 item 3): sends intents on
the treasury's old endpoint, waits for its move file, then moves to the new endpoint with
the new treasury public key, resends its last intent there (a replay), and goes on.

    python -m tests.support.rotation_client NAME SECRET OLD_ENDPOINT OLD_PUBLIC
        NEW_ENDPOINT NEW_PUBLIC MOVE_FILE COUNT

Prints one line per reply: `decided ID ENDPOINT OUTCOME STATUS`, then `moved` and `done`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from common.curve import load_key_pair, load_public_key
from common.intent_client import IntentClient
from tests.support.treasury_proc import new_intent


def main(argv: list[str]) -> int:
    name, secret, old_ep, old_pub, new_ep, new_pub, move_file, count = argv
    keys = load_key_pair(Path(secret), name)
    n = int(count)
    sent = []

    def send(client: IntentClient, intent, where: str) -> None:
        reply = client.send_intent(intent)
        print(f"decided {reply.intent_id} {where} {reply.outcome} {reply.status}", flush=True)

    with IntentClient(old_ep, keys, load_public_key(Path(old_pub), "old"), timeout=2.0, retries=5) as old:
        for i in range(n):
            intent = new_intent(f"{name}-{i}", amount="10")
            send(old, intent, "old")
            sent.append(intent)
    print("waiting", flush=True)
    deadline = time.monotonic() + 60
    while not Path(move_file).exists():  # the test's signal to move; bounded
        if time.monotonic() > deadline:
            print("never told to move", flush=True)
            return 1
        time.sleep(0.05)
    with IntentClient(new_ep, keys, load_public_key(Path(new_pub), "new"), timeout=2.0, retries=5) as new:
        print("moved", flush=True)
        send(new, sent[-1], "new")  # the move's retry: the first decision, not a second intent
        for i in range(n, 2 * n):
            send(new, new_intent(f"{name}-{i}", amount="10"), "new")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
