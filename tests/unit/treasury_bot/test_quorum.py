"""Signed operator actions and the quorum count (issue 13 item 3): the pure rules of
treasury_bot/quorum.py, its canonical bytes, signature checks and counting."""

from __future__ import annotations

import base64

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from treasury_bot import quorum
from treasury_bot.policy_model import Approvals
from treasury_bot.policy_tables import check_across
from treasury_bot.policy_messages import Invalid
from tests.support.treasury_core import make_policy

T0 = 1_700_000_000_000
ALICE, BOB, MALLORY = (Ed25519PrivateKey.generate() for _ in range(3))
KEYS = {"alice": ALICE.public_key(), "bob": BOB.public_key()}
TWO_OF_TWO = Approvals(quorum=2, operators=("alice", "bob"))
NONCE = "0123456789abcdef0123456789abcdef"


def signed(key=ALICE, operator="alice", action="approve", subject="p-1", at=T0, nonce=NONCE):
    return quorum.sign(key, action=action, subject=subject, operator=operator, signed_at=at, nonce=nonce)


def code_of(call) -> str:
    with pytest.raises(quorum.QuorumError) as caught:
        call()
    return caught.value.code


def test_the_canonical_bytes_are_the_header_and_one_line_per_field_in_order():
    """The signed bytes are fixed text: a header, then action, subject, operator, signed_at, nonce."""
    action = quorum.SignedAction(action="approve", subject="p-1", operator="alice", signed_at=T0, nonce=NONCE)
    assert quorum.canonical_bytes(action) == (
        b"treasury-operator-action v1\naction=approve\nsubject=p-1\noperator=alice\n"
        b"signed_at=1700000000000\nnonce=0123456789abcdef0123456789abcdef\n")


@pytest.mark.parametrize("field, value", [
    ("action", "withdraw"), ("subject", "p-1\noperator=bob"), ("subject", "freeze:1"),
    ("operator", "alice\n"), ("operator", ""), ("nonce", "XYZ"), ("nonce", NONCE.upper()), ("signed_at", -1),
])
def test_a_field_that_could_smuggle_a_line_or_is_out_of_shape_is_malformed(field, value):
    """No field can carry a newline or break its pattern: such an action has no canonical bytes."""
    action = msgspec.structs.replace(signed(), **{field: value})
    assert code_of(lambda: quorum.canonical_bytes(action)) == quorum.MALFORMED


def test_an_unfreeze_vote_names_a_freeze_and_an_approval_an_intent():
    """`unfreeze` signs freeze:SEQ; approve/reject an intent id; the other pairings are malformed."""
    assert quorum.canonical_bytes(signed(action="unfreeze", subject=quorum.freeze_subject(7)))
    assert code_of(lambda: quorum.canonical_bytes(signed(action="unfreeze", subject="p-1"))) == quorum.MALFORMED


def test_a_good_signature_of_a_listed_operator_verifies():
    """A listed operator's fresh, well-signed action passes every ledger-free check."""
    quorum.verify(signed(), TWO_OF_TWO, KEYS, T0 + 5_000)


@pytest.mark.parametrize("change", ["subject", "operator-field", "signature-bytes", "not-base64", "other-key"])
def test_a_bad_signature_is_refused(change):
    """A changed field, a flipped byte, garbage or another person's key: bad_signature."""
    action = signed()
    if change == "subject":
        action = msgspec.structs.replace(action, subject="p-2")
    elif change == "operator-field":
        action = msgspec.structs.replace(signed(key=ALICE, operator="bob"))
    elif change == "signature-bytes":
        raw = bytearray(base64.b64decode(action.signature))
        raw[0] ^= 1
        action = msgspec.structs.replace(action, signature=base64.b64encode(bytes(raw)).decode())
    elif change == "not-base64":
        action = msgspec.structs.replace(action, signature="not base64!")
    else:
        action = signed(key=MALLORY)
    assert code_of(lambda: quorum.verify(action, TWO_OF_TWO, KEYS, T0)) == quorum.BAD_SIGNATURE


def test_an_operator_not_listed_or_without_a_key_is_unknown():
    """Not in [approvals] operators, or listed without a public key: unknown_operator."""
    assert code_of(lambda: quorum.verify(signed(key=MALLORY, operator="mallory"), TWO_OF_TWO,
                                         {**KEYS, "mallory": MALLORY.public_key()}, T0)) == quorum.UNKNOWN_OPERATOR
    assert code_of(lambda: quorum.verify(signed(key=BOB, operator="bob"), TWO_OF_TWO,
                                         {"alice": KEYS["alice"]}, T0)) == quorum.UNKNOWN_OPERATOR


@pytest.mark.parametrize("skew_ms", [quorum.MAX_SKEW_MS + 1, -quorum.MAX_SKEW_MS - 1])
def test_a_signature_signed_too_long_ago_or_ahead_is_stale(skew_ms):
    """signed_at more than MAX_SKEW_MS from the treasury's time, either way: stale_signature."""
    assert code_of(lambda: quorum.verify(signed(at=T0), TWO_OF_TWO, KEYS, T0 + skew_ms)) == quorum.STALE_SIGNATURE
    quorum.verify(signed(at=T0), TWO_OF_TWO, KEYS, T0 + (quorum.MAX_SKEW_MS if skew_ms > 0 else -quorum.MAX_SKEW_MS))


def test_a_replayed_nonce_and_a_second_vote_by_the_same_operator_are_refused():
    """The same signed action again is replayed; a new signature by the same person is already_voted."""
    first = quorum.Vote("approve", "alice", NONCE)
    assert code_of(lambda: quorum.admit(signed(), [first])) == quorum.REPLAYED
    again = signed(nonce="f" * 32)
    assert code_of(lambda: quorum.admit(again, [first])) == quorum.ALREADY_VOTED
    quorum.admit(signed(key=BOB, operator="bob", nonce="e" * 32), [first])


def test_the_tally_counts_distinct_operators_and_moves_only_at_the_quorum():
    """One approval of two waits; the same operator twice still counts once; two distinct reach it."""
    one = quorum.tally([quorum.Vote("approve", "alice", "1")], 2)
    assert (one.approvers, one.reached) == (("alice",), False)
    twice = quorum.tally([quorum.Vote("approve", "alice", "1"), quorum.Vote("approve", "alice", "2")], 2)
    assert (twice.approvers, twice.reached) == (("alice",), False)
    both = quorum.tally([quorum.Vote("approve", "alice", "1"), quorum.Vote("approve", "bob", "2")], 2)
    assert (both.approvers, both.reached) == (("alice", "bob"), True)
    assert both.describe() == "2 of 2 approvals (alice, bob)"


def test_a_rejection_after_one_approval_rejects():
    """The first rejection decides, whatever approvals came before it."""
    result = quorum.tally([quorum.Vote("approve", "alice", "1"), quorum.Vote("reject", "bob", "2")], 2)
    assert (result.rejected_by, result.reached) == ("bob", False)
    assert result.describe() == "rejected by bob"


def test_the_policy_refuses_a_quorum_above_the_operators_listed_and_a_repeated_operator():
    """[approvals] quorum 2 of one operator, or an operator listed twice: a policy error naming the key."""
    base = make_policy()
    for approvals, key in ((Approvals(quorum=2, operators=("alice",)), "approvals.quorum"),
                           (Approvals(quorum=2), "approvals.quorum"),
                           (Approvals(operators=("alice", "alice")), "approvals.operators[1]")):
        with pytest.raises(Invalid) as caught:
            check_across(msgspec.structs.replace(base, approvals=approvals))
        assert caught.value.key == key
    check_across(msgspec.structs.replace(base, approvals=TWO_OF_TWO))


def test_a_loosen_early_vote_names_a_pending_loosening_and_counts_like_an_approval():
    """loosen_early signs loosening:SETTING@FIRST_SEEN only; its votes count towards the quorum."""
    subject = quorum.loosening_subject("limits.coins.USDT.max_per_transfer", T0)
    assert subject == f"loosening:limits.coins.USDT.max_per_transfer@{T0}"
    quorum.verify(signed(action="loosen_early", subject=subject), TWO_OF_TWO, KEYS, T0)
    for action, wrong in (("loosen_early", "p-1"), ("loosen_early", "freeze:1"), ("approve", subject),
                          ("unfreeze", subject)):
        assert code_of(lambda: quorum.canonical_bytes(signed(action=action, subject=wrong))) == quorum.MALFORMED
    both = quorum.tally([quorum.Vote("loosen_early", "alice", "1"), quorum.Vote("loosen_early", "bob", "2")], 2)
    assert both.reached
