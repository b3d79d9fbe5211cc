"""`treasuryctl operators add|list`, signed `approve --operator` and `unfreeze` against a real
ledger, policy and env file in tmp_path (issue 13 item 3)."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.treasury_bot.test_ctl import Site, restore_logging, run  # noqa: F401 (autouse fixture)
from treasury_bot import ctl, freeze
from treasury_bot.policy_file import parse_policy

APPROVALS = '\n[approvals]\nquorum = 1\noperators = ["alice"]\n'


@pytest.fixture
def site(tmp_path):
    made = Site(tmp_path)
    yield made
    made.ledger.close()


def with_operators(site: Site, capsys, block: str = APPROVALS) -> None:
    """alice's keys made by `operators add`, her public half beside the policy, the policy listing her."""
    assert ctl.main(["operators", "add", "alice", "--dir", str(site.folder / "alice-home")]) == 0
    capsys.readouterr()
    (site.folder / "operators").mkdir()
    shutil.copy(site.folder / "alice-home" / "alice.pub.pem", site.folder / "operators" / "alice.pub.pem")
    site.text += block
    site.policy = parse_policy(site.text)
    (site.folder / "treasury.toml").write_text(site.text)


def test_operators_add_writes_the_four_files_and_never_overwrites(site, capsys):
    """NAME.pem and NAME.key_secret are 0600; a second add of the same name is refused, changing nothing."""
    folder = site.folder / "alice-home"
    assert ctl.main(["operators", "add", "alice", "--dir", str(folder)]) == 0
    assert "operators/alice.pub.pem" in capsys.readouterr().out
    for name, mode in (("alice.pem", 0o600), ("alice.key_secret", 0o600), ("alice.pub.pem", None), ("alice.key", None)):
        assert (folder / name).exists()
        if mode is not None:
            assert (folder / name).stat().st_mode & 0o777 == mode
    before = (folder / "alice.pem").read_bytes()
    assert ctl.main(["operators", "add", "alice", "--dir", str(folder)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (folder / "alice.pem").read_bytes() == before


def test_operators_list_shows_the_quorum_and_who_is_listed(site, capsys):
    """Each key beside the policy with its fingerprint, and whether [approvals] lists it."""
    with_operators(site, capsys)
    shutil.copy(site.folder / "alice-home" / "alice.pub.pem", site.folder / "operators" / "bob.pub.pem")
    code, out, _ = run(site, capsys, "operators", "list")
    assert code == 0
    assert "quorum 1 of 1 listed operator(s)" in out
    assert [line.split()[0] for line in out.splitlines() if "sha256:" in line] == ["alice", "bob"]
    assert "NOT listed" in next(line for line in out.splitlines() if line.strip().startswith("bob"))


def test_a_signed_approval_queues_and_an_unsigned_one_is_refused(site, capsys):
    """Operators listed: `approve ID` alone exits 1 [signature_required]; `--operator alice` queues
    it, and `show` and `status` say so."""
    with_operators(site, capsys)
    site.accept("big-1", "900")
    code, _, err = run(site, capsys, "approve", "big-1")
    assert code == 1 and "[signature_required]" in err
    key = str(site.folder / "alice-home" / "alice.pem")
    code, out, err = run(site, capsys, "approve", "big-1", "--operator", "alice", "--key-file", key)
    assert code == 0, err
    assert "approved by alice" in out and site.ledger.get_intent("big-1").status == "queued"
    code, out, _ = run(site, capsys, "show", "big-1")
    assert code == 0 and "signed operator actions:" in out
    assert "alice        approve  via local" in out
    code, out, _ = run(site, capsys, "status")
    assert code == 0 and "approvals: quorum 1 of alice (signed)" in out


def test_unfreeze_without_a_quorum_lifts_the_freeze_with_the_note(site, capsys):
    """No operators listed: `unfreeze --note` lifts it at once; not frozen: exit 1 [not_frozen]."""
    freeze.freeze(site.ledger, by="drill", reason="test", now=site.clock.now_ms())
    code, out, _ = run(site, capsys, "unfreeze", "--note", "checked")
    assert code == 0 and "unfrozen by" in out
    row = site.ledger.freeze_history(1)[0]
    assert row.unfrozen_at is not None and row.unfreeze_note == "checked"
    code, _, err = run(site, capsys, "unfreeze", "--note", "again")
    assert code == 1 and "[not_frozen]" in err


def test_unfreeze_with_a_quorum_needs_signed_votes(site, capsys):
    """Quorum 2: unsigned unfreeze is refused; one signed vote waits; the freeze stays."""
    with_operators(site, capsys, '\n[approvals]\nquorum = 2\noperators = ["alice", "bob"]\n')
    shutil.copy(site.folder / "alice-home" / "alice.pub.pem", site.folder / "operators" / "bob.pub.pem")
    freeze.freeze(site.ledger, by="drill", reason="test", now=site.clock.now_ms())
    code, _, err = run(site, capsys, "unfreeze")
    assert code == 1 and "[signature_required]" in err
    key = str(site.folder / "alice-home" / "alice.pem")
    code, out, err = run(site, capsys, "unfreeze", "--operator", "alice", "--key-file", key)
    assert code == 0 and "1 of 2" in out, err
    assert freeze.current(site.ledger) is not None


def test_check_names_an_operator_without_a_key(site, capsys):
    """`check` says FAIL for a listed operator whose operators/NAME.pub.pem is missing, OK once it is there."""
    import responses
    with_operators(site, capsys, '\n[approvals]\nquorum = 1\noperators = ["alice", "bob"]\n')
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://never.used")
        code, out, _ = run(site, capsys, "check")
    assert "FAIL operators                no public key operators/NAME.pub.pem for bob" in out
    shutil.copy(site.folder / "alice-home" / "alice.pub.pem", site.folder / "operators" / "bob.pub.pem")
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        code, out, _ = run(site, capsys, "check")
    assert "OK   operators                quorum 1 of alice, bob, ttl 72 h" in out
