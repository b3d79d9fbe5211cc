"""The treasury's start checks for issue 13 item 3, before anything is opened: every operator
the policy lists has a public key beside the policy, and no operator certificate is a client's."""

from __future__ import annotations

import shutil

from common.config import load_treasury_settings
from tests.integration.treasury_bot.test_ctl import Site, restore_logging  # noqa: F401 (autouse fixture)
from treasury_bot import app, ctl

LISTED = '\n[approvals]\nquorum = 1\noperators = ["alice"]\n'


def site_with(tmp_path, capsys, *, key: bool, extra_env: str = "") -> Site:
    site = Site(tmp_path)
    site.ledger.close()
    assert ctl.main(["operators", "add", "alice", "--dir", str(tmp_path / "alice-home")]) == 0
    capsys.readouterr()
    if key:
        (tmp_path / "operators").mkdir()
        shutil.copy(tmp_path / "alice-home" / "alice.pub.pem", tmp_path / "operators" / "alice.pub.pem")
    (tmp_path / "treasury.toml").write_text(site.text + LISTED)
    site.env.write_text(site.env.read_text() + extra_env)
    return site


def logged(capsys) -> str:
    from common import logs
    logs.flush_logs()
    out, err = capsys.readouterr()
    return out + err


def test_a_listed_operator_without_a_public_key_refuses_the_start(tmp_path, capsys):
    """[approvals] operators names alice, operators/alice.pub.pem is absent: a config error, at once."""
    site = site_with(tmp_path, capsys, key=False)
    assert app.run(load_treasury_settings(site.env)) == app.EXIT_CONFIG
    assert "operators alice: no public key" in logged(capsys)


def test_an_operator_certificate_that_is_a_clients_refuses_the_start(tmp_path, capsys):
    """TREASURY_OPERATOR_CERTS_DIR holding the client signal's certificate: a config error."""
    site = site_with(tmp_path, capsys, key=True,
                     extra_env="TREASURY_OPERATOR_BIND=tcp://127.0.0.1:7703\nTREASURY_OPERATOR_CERTS_DIR=ops\n")
    (tmp_path / "ops").mkdir()
    shutil.copy(tmp_path / "clients" / "signal.key", tmp_path / "ops" / "alice.key")
    assert app.run(load_treasury_settings(site.env)) == app.EXIT_CONFIG
    assert "is also the client certificate signal.key" in logged(capsys)
