"""The journal's hash chain as pure functions: the canonical bytes, the link, and verify
over plain rows naming the first edited, deleted or inserted one (treasury_bot/journal_chain.py)."""

from __future__ import annotations

import hashlib

import pytest

from treasury_bot import journal_chain as jc


def test_the_canonical_encoding_is_the_documented_bytes():
    """None, int, text and bytes encode as the tag-length-value bytes docs/design.md states."""
    assert jc.encode(None) == b"\x00"
    assert jc.encode(1) == b"\x01" + (1).to_bytes(8, "big")
    assert jc.encode(-2) == b"\x01" + (-2).to_bytes(8, "big", signed=True)
    assert jc.encode("é") == b"\x02\x00\x00\x00\x02" + "é".encode()
    assert jc.encode(b"ab") == b"\x03\x00\x00\x00\x02ab"
    assert jc.body(3, "t", 7, ["x"]) == jc.encode(3) + jc.encode("t") + jc.encode(7) + jc.encode(1) + jc.encode("x")


def test_text_and_bytes_and_none_and_empty_text_never_encode_alike():
    """Each type has its own tag, so a value cannot pass for another."""
    forms = {jc.encode(v) for v in (None, "", b"", 0, "0", b"0")}
    assert len(forms) == 6


def test_a_value_without_a_canonical_form_is_refused():
    """A float has no form in the encoding: a typed error, nothing hashed."""
    with pytest.raises(jc.ChainEncodingError):
        jc.encode(1.5)


def test_a_link_hashes_the_previous_hash_then_the_body():
    """The first link hashes 32 zero bytes before its body; the next its predecessor's hash."""
    first = jc.link_hash(None, 1, "decisions", 5, [1, "policy"])
    assert first == hashlib.sha256(bytes(32) + jc.body(1, "decisions", 5, [1, "policy"])).hexdigest()
    second = jc.link_hash(first, 2, "decisions", 6, [])
    assert second == hashlib.sha256(bytes.fromhex(first) + jc.body(2, "decisions", 6, [])).hexdigest()


def _chain(rows: dict[str, list[tuple[int, tuple]]], order: list[tuple[str, int]]) -> list[jc.Link]:
    links: list[jc.Link] = []
    head = jc.EMPTY_HEAD
    for table, key in order:
        values = dict(rows[table])[key]
        links += jc.links_for(head, table, [(key, values)])
        head = jc.Head(links[-1].seq, links[-1].hash)
    return links


ROWS = {"intents": [(1, ("a", "100")), (2, ("b", "5"))],
        "decisions": [(1, (1, "accepted")), (2, (2, "rejected"))]}
ORDER = [("intents", 1), ("decisions", 1), ("intents", 2), ("decisions", 2)]


def test_an_untouched_chain_verifies_and_gives_its_head():
    """Every link matches its row: intact, with the last link as the head."""
    links = _chain(ROWS, ORDER)
    verdict = jc.verify(links, ROWS)
    assert verdict.intact and verdict.links == 4 and verdict.head == jc.Head(4, links[-1].hash)


def test_an_edited_row_is_named_with_its_table_and_key():
    """A changed sealed value breaks its own link: `edited`, decisions row 2."""
    links = _chain(ROWS, ORDER)
    edited = {**ROWS, "decisions": [(1, (1, "accepted")), (2, (2, "accepted"))]}
    broken = jc.verify(links, edited).broken
    assert (broken.kind, broken.table, broken.row, broken.link) == (jc.EDITED, "decisions", 2, 4)


def test_a_deleted_row_is_named():
    """A row gone from its table while its link stays: `deleted`."""
    links = _chain(ROWS, ORDER)
    broken = jc.verify(links, {**ROWS, "intents": [(2, ("b", "5"))]}).broken
    assert (broken.kind, broken.table, broken.row) == (jc.DELETED, "intents", 1)


def test_an_inserted_row_is_named_in_the_middle_and_after_the_head():
    """A row without a link, between sealed rows or after the last: `inserted`."""
    links = _chain(ROWS, ORDER)
    middle = {**ROWS, "intents": [(1, ("a", "100")), (2, ("x", "1")), (3, ("b", "5"))]}
    # intents 2 is now ('x', '1'): edited; a row between keys is what an insert looks like:
    between = {**ROWS, "decisions": [(1, (1, "accepted")), (2, (2, "rejected")), (3, (9, "accepted"))]}
    assert jc.verify(links, middle).broken.kind == jc.EDITED
    tail = jc.verify(links, between).broken
    assert (tail.kind, tail.table, tail.row) == (jc.INSERTED, "decisions", 3)
    early = {**ROWS, "decisions": [(0, (0, "accepted")), *ROWS["decisions"]]}
    first = jc.verify(links, early).broken
    assert (first.kind, first.table, first.row) == (jc.INSERTED, "decisions", 0)


def test_a_missing_link_is_named_by_its_sequence_number():
    """A link removed from the chain itself: `deleted`, link 2."""
    links = _chain(ROWS, ORDER)
    broken = jc.verify([links[0], *links[2:]], ROWS).broken
    assert (broken.kind, broken.link) == (jc.DELETED, 2)


def test_a_rewritten_hash_breaks_the_next_link_and_an_anchor_catches_a_rewritten_tail():
    """Changing a stored hash breaks the link after it; a fully rewritten tail fails its mailed anchor."""
    links = _chain(ROWS, ORDER)
    tampered = [links[0], jc.Link(2, "decisions", 1, "0" * 64), *links[2:]]
    assert jc.verify(tampered, ROWS).broken.link == 2
    mailed = jc.Head(4, links[-1].hash)
    assert jc.check_anchor(mailed, links[-1].hash) is None
    assert "rewritten" in jc.check_anchor(mailed, "1" * 64)
    assert "not in the chain" in jc.check_anchor(mailed, None)


def test_a_chain_head_parses_as_mailed_and_bad_text_is_refused():
    """`SEQ:HASH` round-trips; anything else is a ValueError."""
    head = jc.Head(12, "ab" * 32)
    assert jc.parse_head(str(head)) == head
    for bad in ("12", "x:" + "ab" * 32, "3:" + "AB" * 32, "3:abc"):
        with pytest.raises(ValueError):
            jc.parse_head(bad)
