"""Writing a new Ed25519 API key pair for Binance to disk: the `keys binance` command of
both bots (issue 12 item 7).

The private key is created with mode 0600 and `O_EXCL`, so an existing key (perhaps the
one a live account signs with) is never overwritten; the public key beside it is the only
thing that goes to Binance ("API Management" -> "Create API" -> "Self-generated").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from common.config import ConfigError

DEFAULT_NAME = "binance-ed25519"


@dataclass(frozen=True)
class WrittenKeyPair:
    private_file: Path
    public_file: Path
    public_pem: str


def write_ed25519_key_pair(folder: Path, name: str = DEFAULT_NAME) -> WrittenKeyPair:
    """Make a key pair and write NAME.pem (private, 0600) and NAME.pub.pem into `folder`.
    Refuses, changing nothing, when either file already exists."""
    from common.binance.ed25519 import new_key_pair  # loads `cryptography` only here

    if not name or "/" in name or name.startswith("."):
        raise ConfigError(f"key name {name!r}: give a plain file name, like {DEFAULT_NAME}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = folder.resolve()
    private_file, public_file = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    for path in (private_file, public_file):
        if path.exists():
            raise ConfigError(f"{path} already exists; a key is never overwritten (move it away, "
                              "or give another --name)")
    private_pem, public_pem = new_key_pair()
    fd = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, private_pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    public_file.write_bytes(public_pem)
    return WrittenKeyPair(private_file, public_file, public_pem.decode("ascii"))


def next_steps(written: WrittenKeyPair, key_var: str, file_var: str) -> str:
    """What the user does with the pair, printed by both `keys binance` commands."""
    return (f"private key: {written.private_file}  (mode 0600; never leaves this host)\n"
            f"public key:  {written.public_file}\n\n{written.public_pem}\n"
            "Next: in Binance, API Management -> Create API -> Self-generated, paste the public key\n"
            "above, set the key's permissions and IP restriction; then in the env file set\n"
            f"  {key_var}=<the API key Binance shows>\n"
            f"  {file_var}={written.private_file}\n"
            "and remove any HMAC secret line. `check` then shows the key type.")
