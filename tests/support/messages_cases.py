"""What tests/unit/common/test_messages.py and tests/integration/common/test_messages.py share:
PROPERTY, GOOD, DROP, frame, refused."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import settings

from common import messages
from common.messages import WireError

PROPERTY = settings(max_examples=300, derandomize=True, database=None, deadline=None)

GOOD = dict(type="transfer_intent", intent_id="sweep-0001_a", coin="USDT", network="TRX",
            destination="cold-wallet", amount="100.5", reason="sweep after fill",
            created_at=1_700_000_000_000)

DROP = object()


def frame(**over) -> bytes:
    """GOOD as a MessagePack map, with fields replaced (or removed with DROP)."""
    fields = dict(GOOD)
    for name, value in over.items():
        if value is DROP:
            fields.pop(name)
        else:
            fields[name] = value
    return msgspec.msgpack.encode(fields)


def refused(raw: bytes) -> WireError:
    with pytest.raises(WireError) as caught:
        messages.decode_request(raw)
    return caught.value
