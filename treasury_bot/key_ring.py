"""The exchange key the treasury signs with now (issue 16 item 1: a reload rotates it).

Every exchange client the treasury builds (treasury_bot/bootstrap.py `exchange_client`) is
tracked here, per ledger (one treasury per ledger). A rotation, done only after the new key
passed the self-audit (treasury_bot/reload.py), hands the new key to every tracked client
(`BinanceClient.set_credentials`, under each client's request lock: an apply in progress
finishes with the key it started with) and to clients built later. No I/O here.
"""

from __future__ import annotations

import threading
import weakref

from common.config.fields import ApiCredentials

_lock = threading.Lock()
_current: dict[str, ApiCredentials] = {}
_clients: dict[str, "weakref.WeakSet"] = {}


def current(ledger_path, started_with: ApiCredentials) -> ApiCredentials:
    """The credentials in use for this ledger's treasury: the start's until a rotation."""
    with _lock:
        return _current.get(str(ledger_path), started_with)


def track(ledger_path, client):
    """Remember `client` so that a later rotation reaches it; returns it."""
    with _lock:
        _clients.setdefault(str(ledger_path), weakref.WeakSet()).add(client)
    return client


def rotate(ledger_path, credentials: ApiCredentials) -> int:
    """Use `credentials` from every tracked client's next request on; how many clients moved."""
    with _lock:
        _current[str(ledger_path)] = credentials
        clients = list(_clients.get(str(ledger_path), ()))
    for client in clients:
        client.set_credentials(credentials.key, credentials.secret)
    return len(clients)


def forget(ledger_path) -> None:
    """At shutdown: the next run starts from its env file's key."""
    with _lock:
        _current.pop(str(ledger_path), None)
        _clients.pop(str(ledger_path), None)
