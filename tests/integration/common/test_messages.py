"""The wire contract (DESIGN section 2): every malformed frame is a typed WireError whose
code is the wire's and whose detail names the field; every message round-trips."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from common import messages
from tests.support.messages_cases import PROPERTY, GOOD, refused


# (case, frame, code, words the detail must contain)


@PROPERTY
@given(intent_id=st.from_regex(r"[A-Za-z0-9_-]{1,36}", fullmatch=True),
       whole=st.integers(min_value=0, max_value=10**30), fraction=st.text("0123456789", min_size=0, max_size=18),
       created_at=st.integers(min_value=0, max_value=2**53))
def test_any_valid_intent_round_trips(intent_id, whole, fraction, created_at):
    """Every intent the grammar admits decodes to itself; a zero amount is the only refusal."""
    amount = f"{whole}.{fraction}" if fraction else str(whole)
    fields = {**GOOD, "intent_id": intent_id, "amount": amount, "created_at": created_at}
    raw = msgspec.msgpack.encode(fields)
    if whole == 0 and not fraction.strip("0"):
        assert "greater than zero" in refused(raw).detail
        return
    decoded = messages.decode_request(raw)
    assert messages.decode_request(messages.encode(decoded)) == decoded
    assert decoded.amount == amount
