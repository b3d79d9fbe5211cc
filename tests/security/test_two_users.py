"""The documented two-user layout: the signal bot's user cannot read the treasury's files.

Layout (docs/deployment.md), tested here with throwaway users on this machine:

    /srv/treasury/            treasury:treasury  0700
        treasury.env          treasury:treasury  0600   withdraw key and secret, SMTP password
        treasury.toml         treasury:treasury  0600   policy (whitelist addresses)
        ledger.sqlite{,-wal,-shm}  treasury:treasury  0600
        keys/                 treasury:treasury  0700
            treasury.key_secret   0600               CURVE secret key
            treasury.key          0644               public certificate (copied to the signal host)
        authorized_clients/   treasury:treasury  0700   NAME.key public certificates
    /srv/signal/              signal:signal      0700
        signal.env            signal:signal      0600   trading key and secret, webhook secret
        keys/signal.key_secret  signal:signal    0600
        treasury_public/treasury.key             0644   the treasury's PUBLIC certificate only
        state.sqlite          signal:signal      0600

Each bot runs as its own user (supervisord `user=`, systemd `User=`). The test makes two
users, lays the files out like that (real CURVE certificates, a real ledger, real env
files), runs a process as each user and checks who can read what. It needs root and
`useradd`; otherwise it skips, saying why. The users and files are removed at the end.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from common.curve import generate
from tests.support.sandbox import DEMO_SIGNAL, DEMO_TREASURY
from tests.support.signal_proc import SECRET as WEBHOOK_SECRET
from tests.support.treasury import open_ledger

PROBE = r"""
import json, os, sqlite3, sys
out = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as handle:
                handle.read(1)
        out[path] = "ok"
    except OSError as exc:
        out[path] = type(exc).__name__
ledger = [p for p in sys.argv[1:] if p.endswith("ledger.sqlite")]
if ledger:
    try:
        conn = sqlite3.connect(f"file:{ledger[0]}?mode=ro", uri=True)
        conn.execute("SELECT COUNT(*) FROM intents").fetchone()
        out["sqlite"] = "ok"
    except sqlite3.Error as exc:
        out["sqlite"] = type(exc).__name__
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "result": out}))
"""


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def _skip(reason: str):
    print(f"SKIP two-user layout: {reason}")
    pytest.skip(reason)


@pytest.fixture
def users() -> Iterator[tuple[pwd.struct_passwd, pwd.struct_passwd]]:
    """Two throwaway system users (no home, no shell), removed afterwards."""
    if os.geteuid() != 0:
        _skip("needs root to create users and change file owners")
    useradd, userdel = shutil.which("useradd"), shutil.which("userdel")
    if not useradd or not userdel:
        _skip("useradd/userdel not found")
    tag = f"{os.getpid() % 100000}"
    names = [f"t7treasury{tag}", f"t7signal{tag}"]
    made: list[str] = []
    try:
        for name in names:
            done = _run([useradd, "--system", "--no-create-home", "--user-group",
                         "--shell", "/usr/sbin/nologin", name])
            if done.returncode != 0:
                _skip(f"useradd {name} failed ({done.returncode}): {done.stderr.strip()}")
            made.append(name)
        yield pwd.getpwnam(names[0]), pwd.getpwnam(names[1])
    finally:
        for name in made:
            _run([userdel, name])
            if shutil.which("groupdel"):
                _run([shutil.which("groupdel"), name])  # left behind where USERGROUPS_ENAB is off


@pytest.fixture
def srv() -> Iterator[Path]:
    """A folder everyone may traverse, like /srv (pytest's tmp folders are root-only 0700,
    which would deny the signal user everything for the wrong reason)."""
    folder = Path(tempfile.mkdtemp(prefix="t7-two-users-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def lay_out(srv: Path, treasury_user: pwd.struct_passwd, signal_user: pwd.struct_passwd) -> dict[str, Path]:
    treasury, signal = srv / "treasury", srv / "signal"
    public, secret = generate(treasury / "keys", "treasury")
    client_public, client_secret = generate(signal / "keys", "signal")
    (treasury / "authorized_clients").mkdir()
    shutil.copy(client_public, treasury / "authorized_clients" / "signal.key")
    (signal / "treasury_public").mkdir()
    shutil.copy(public, signal / "treasury_public" / "treasury.key")
    env = treasury / "treasury.env"
    env.write_text(f"TREASURY_API_KEY={DEMO_TREASURY.api_key}\nTREASURY_API_SECRET={DEMO_TREASURY.api_secret}\n"
                   "TREASURY_LEDGER_PATH=ledger.sqlite\nTREASURY_CURVE_SECRET_FILE=keys/treasury.key_secret\n"
                   "TREASURY_AUTHORIZED_CLIENTS_DIR=authorized_clients\n")
    (treasury / "treasury.toml").write_text("quarantine_hours = 24\n")
    ledger = open_ledger(treasury / "ledger.sqlite")
    ledger.close()
    signal_env = signal / "signal.env"
    signal_env.write_text(f"SIGNAL_API_KEY={DEMO_SIGNAL.api_key}\nSIGNAL_API_SECRET={DEMO_SIGNAL.api_secret}\n"
                          f"SIGNAL_WEBHOOK_SECRET={WEBHOOK_SECRET}\nSIGNAL_CURVE_SECRET_FILE=keys/signal.key_secret\n"
                          "TREASURY_CURVE_PUBLIC_FILE=treasury_public/treasury.key\n")
    for root, user in ((treasury, treasury_user), (signal, signal_user)):
        for path in [root, *root.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
            if path.is_dir():
                path.chmod(0o700)
            elif path.suffix == ".key":
                path.chmod(0o644)   # public certificates
            else:
                path.chmod(0o600)
    return {"treasury_dir": treasury, "treasury_env": env, "ledger": treasury / "ledger.sqlite",
            "treasury_secret": secret, "treasury_policy": treasury / "treasury.toml",
            "signal_env": signal_env, "signal_secret": client_secret,
            "signal_treasury_public": signal / "treasury_public" / "treasury.key"}


def probe_python() -> str:
    """An interpreter another user may run (the venv's may live under root's 0700 home)."""
    for candidate in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"):
        path = Path(candidate).resolve()
        if path.is_file() and all(p.stat().st_mode & 0o001 for p in [path, *path.parents]):
            return str(path)
    _skip("no Python interpreter that an unprivileged user may execute")


def read_as(user: pwd.struct_passwd, paths: list[Path]) -> dict[str, str]:
    """Run a process as `user` (its own uid, gid and no other groups) that tries to read each path."""
    done = subprocess.run([probe_python(), "-I", "-c", PROBE, *map(str, paths)], capture_output=True, text=True,
                          timeout=30, user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["uid"], report["gid"], report["groups"]) == (user.pw_uid, user.pw_gid, [])
    return report["result"]


def test_the_signal_user_cannot_read_the_treasury_env_ledger_or_curve_secret(users, srv):
    """As the signal user: treasury.env, the ledger (file and SQLite open), the CURVE
    secret key, the policy and the treasury's folder listing are all PermissionError, while
    its own env file and the treasury's public certificate are readable; the treasury user
    reads its files and cannot read the signal bot's. With the treasury folder opened to
    0711 the files' own 0600 still refuses the signal user."""
    treasury_user, signal_user = users
    files = lay_out(srv, treasury_user, signal_user)
    treasury_files = [files[k] for k in ("treasury_env", "ledger", "treasury_secret", "treasury_policy")]
    wal = Path(f"{files['ledger']}-wal")
    if wal.exists():
        treasury_files.append(wal)

    as_signal = read_as(signal_user, [*treasury_files, files["treasury_dir"], files["signal_env"],
                                      files["signal_secret"], files["signal_treasury_public"]])
    for path in [*treasury_files, files["treasury_dir"]]:
        assert as_signal[str(path)] == "PermissionError", (path, as_signal)
    assert as_signal["sqlite"] == "OperationalError"
    for path in (files["signal_env"], files["signal_secret"], files["signal_treasury_public"]):
        assert as_signal[str(path)] == "ok", (path, as_signal)

    as_treasury = read_as(treasury_user, [*treasury_files, files["signal_env"], files["signal_secret"]])
    assert all(as_treasury[str(p)] == "ok" for p in treasury_files), as_treasury
    assert as_treasury["sqlite"] == "ok"
    assert as_treasury[str(files["signal_env"])] == as_treasury[str(files["signal_secret"])] == "PermissionError"

    # Defence in depth: a folder made traversable by mistake still leaves 0600 files closed.
    files["treasury_dir"].chmod(0o711)
    (files["treasury_dir"] / "keys").chmod(0o711)
    again = read_as(signal_user, treasury_files)
    assert all(again[str(p)] == "PermissionError" for p in treasury_files), again
    assert again["sqlite"] == "OperationalError"
