"""CURVE key files in zmq.auth certificate format, and socket set-up on each side."""

from __future__ import annotations

import stat

import pytest
import zmq

from common.config import ConfigError
from common.curve import (KeyPair, configure_client, configure_server, generate, load_authorized_clients,
                          load_key_pair, load_public_key)


def test_generate_writes_a_public_and_a_0600_secret_certificate(tmp_path):
    """NAME.key and NAME.key_secret appear in a new folder; only the secret is locked down."""
    public, secret = generate(tmp_path / "new" / "keys", "signal")
    assert (public.name, secret.name) == ("signal.key", "signal.key_secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    pair = load_key_pair(secret, "X")
    assert load_public_key(public, "X") == pair.public
    assert len(pair.public) == 40 and len(pair.secret) == 40


def test_a_key_pairs_repr_never_shows_the_secret(tmp_path):
    """repr(KeyPair) shows the public key and *** for the secret."""
    _, secret = generate(tmp_path, "t")
    pair = load_key_pair(secret, "X")
    assert pair.secret.decode() not in repr(pair) and "***" in repr(pair)
    assert pair.public.decode() in repr(pair)


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "absent.key_secret", "cannot read"),
    (lambda d: generate(d, "pub")[0], "holds no secret key"),
])
def test_load_key_pair_refuses_what_is_not_a_secret_certificate(tmp_path, make, words):
    """A missing file or a public-only certificate is a ConfigError naming the setting."""
    with pytest.raises(ConfigError) as caught:
        load_key_pair(make(tmp_path), "TREASURY_CURVE_SECRET_FILE")
    assert "TREASURY_CURVE_SECRET_FILE" in str(caught.value) and words in str(caught.value)


def test_load_public_key_refuses_a_secret_certificate(tmp_path):
    """Giving the secret file where the public one is expected is refused (it would leak)."""
    _, secret = generate(tmp_path, "t")
    with pytest.raises(ConfigError, match="holds a secret key"):
        load_public_key(secret, "TREASURY_CURVE_PUBLIC_FILE")
    with pytest.raises(ConfigError, match="cannot read"):
        load_public_key(tmp_path / "none.key", "TREASURY_CURVE_PUBLIC_FILE")


def test_authorized_clients_are_named_by_their_certificate_files(tmp_path):
    """Each NAME.key in the folder maps its public key to NAME; other files are ignored."""
    keys, clients = tmp_path / "keys", tmp_path / "clients"
    clients.mkdir()
    expected = {}
    for name in ("signal", "other-bot"):
        public, _ = generate(keys, name)
        (clients / public.name).write_bytes(public.read_bytes())
        expected[load_public_key(public, "x")] = name
    (clients / "README.txt").write_text("not a key")
    assert load_authorized_clients(clients) == expected


def test_authorized_clients_refuse_a_missing_or_empty_folder(tmp_path):
    """No folder, or no NAME.key in it, is a ConfigError: CURVE needs an allow-list."""
    with pytest.raises(ConfigError, match="is not a folder"):
        load_authorized_clients(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no NAME.key"):
        load_authorized_clients(tmp_path / "empty")


def test_authorized_clients_refuse_a_key_listed_twice(tmp_path):
    """Two names for one key would make the identity ambiguous."""
    public, _ = generate(tmp_path / "keys", "a")
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "a.key").write_bytes(public.read_bytes())
    (clients / "b.key").write_bytes(public.read_bytes())
    with pytest.raises(ConfigError, match="repeats the key"):
        load_authorized_clients(clients)


def test_authorized_clients_refuse_a_secret_certificate_in_the_folder(tmp_path):
    """A secret key copied into the allow-list folder as NAME.key is refused."""
    _, secret = generate(tmp_path / "keys", "a")
    clients = tmp_path / "clients"
    clients.mkdir()
    (clients / "a.key").write_bytes(secret.read_bytes())
    with pytest.raises(ConfigError, match="holds a secret key"):
        load_authorized_clients(clients)


def _round_trip(server_keys: KeyPair, client_keys: KeyPair, server_public_given: bytes) -> bytes | None:
    context = zmq.Context()
    try:
        server = context.socket(zmq.REP)
        server.setsockopt(zmq.LINGER, 0)
        configure_server(server, server_keys)
        port = server.bind_to_random_port("tcp://127.0.0.1")
        client = context.socket(zmq.REQ)
        client.setsockopt(zmq.LINGER, 0)
        configure_client(client, client_keys, server_public_given)
        client.connect(f"tcp://127.0.0.1:{port}")
        client.send(b"ping")
        if not server.poll(2000):
            return None
        server.send(server.recv() + b"-pong")
        return client.recv() if client.poll(2000) else None
    finally:
        context.destroy(linger=0)


def test_configured_sockets_talk_over_curve(tmp_path):
    """A server and a client configured with these helpers exchange messages."""
    server = load_key_pair(generate(tmp_path, "server")[1], "s")
    client = load_key_pair(generate(tmp_path, "client")[1], "c")
    assert _round_trip(server, client, server.public) == b"ping-pong"


def test_a_client_with_the_wrong_server_key_gets_nothing_through(tmp_path):
    """A client that expects another server's key never completes the handshake."""
    server = load_key_pair(generate(tmp_path, "server")[1], "s")
    client = load_key_pair(generate(tmp_path, "client")[1], "c")
    impostor = load_key_pair(generate(tmp_path, "impostor")[1], "i")
    context = zmq.Context()
    try:
        rep = context.socket(zmq.REP)
        rep.setsockopt(zmq.LINGER, 0)
        configure_server(rep, server)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        req = context.socket(zmq.REQ)
        req.setsockopt(zmq.LINGER, 0)
        configure_client(req, client, impostor.public)
        req.connect(f"tcp://127.0.0.1:{port}")
        req.send(b"ping")
        assert rep.poll(300) == 0
    finally:
        context.destroy(linger=0)
