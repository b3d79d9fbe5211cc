"""The treasury's second intent endpoint for a CURVE key rotation (issue 16 item 3). Pure.

While clients move to the treasury's new CURVE key pair, the treasury serves a second
ROUTER (and PUB) with the new key beside the old ones, both deciding through the same
server and ledger (treasury_bot/server.py). Set all three or none:
- TREASURY_INTENT_ENDPOINT_NEXT: the new key's intent endpoint (a port of its own);
- TREASURY_EVENT_ENDPOINT_NEXT: the new key's event feed;
- TREASURY_CURVE_SECRET_FILE_NEXT: the new pair's `.key_secret` certificate.
The runbook: docs/deployment.md, "Key rotation".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from common.config.env import ConfigError, Env
from common.config.fields import check_endpoint

NAMES = ("TREASURY_INTENT_ENDPOINT_NEXT", "TREASURY_EVENT_ENDPOINT_NEXT", "TREASURY_CURVE_SECRET_FILE_NEXT")


@dataclass(frozen=True)
class CurveNext:
    intent_endpoint: str
    event_endpoint: str
    secret_file: Path


def curve_next(env: Env, intent_endpoint: str, event_endpoint: str) -> CurveNext | None:
    intent, event = env.get(NAMES[0]), env.get(NAMES[1])
    secret = env.path_of(NAMES[2])
    given = [name for name, value in zip(NAMES, (intent, event, secret)) if value is not None]
    if not given:
        return None
    if len(given) != len(NAMES):
        missing = [name for name in NAMES if name not in given]
        raise ConfigError(f"{', '.join(given)} set without {', '.join(missing)}: the second endpoint for a "
                          "CURVE key rotation needs all three (or none)")
    check_endpoint(NAMES[0], intent)
    check_endpoint(NAMES[1], event)
    taken = {intent_endpoint, event_endpoint}
    if intent in taken or event in taken or intent == event:
        raise ConfigError(f"{NAMES[0]} and {NAMES[1]} must be endpoints of their own, apart from "
                          "TREASURY_INTENT_ENDPOINT and TREASURY_EVENT_ENDPOINT")
    return CurveNext(intent, event, secret)
