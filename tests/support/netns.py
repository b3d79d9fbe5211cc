"""Two network namespaces joined by a veth pair: two "hosts" on one machine, for e2e tests.

    pair = NetnsPair.create()          # raises NetnsUnavailable (with the reason) if it cannot
    try:
        argv = pair.exec_argv(pair.ns_a, ["treasury-bot", "run", ...])   # run inside A
        pair.python(pair.ns_b, "print(1)")                               # a short script inside B
    finally:
        pair.remove()                  # deletes both namespaces (and with them the veth pair)

Each namespace has only its loopback and its end of the veth pair, with a /30 private
address (10.200.X.1 in A, 10.200.X.2 in B) that exists nowhere else: no route leads out
of them, so nothing they send leaves the machine. Names are unique per run.

`python -m tests.support.netns relay LISTEN_HOST:PORT TARGET_HOST:PORT` is a small TCP
relay (run inside a namespace) that forwards connections to another address: the
signal host uses it to reach the exchange through its own loopback, since a bot accepts
plain `http://` only for a loopback exchange URL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[2]


class NetnsUnavailable(Exception):
    """Namespaces cannot be made here; the message says why."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise NetnsUnavailable(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


@dataclass
class NetnsPair:
    ns_a: str
    ns_b: str
    veth_a: str
    veth_b: str
    ip_a: str
    ip_b: str

    @classmethod
    def create(cls) -> "NetnsPair":
        if os.geteuid() != 0:
            raise NetnsUnavailable("creating network namespaces needs root")
        if shutil.which("ip") is None:
            raise NetnsUnavailable("the `ip` command (iproute2) is not installed")
        tag = f"{os.getpid() % 10000}{secrets.token_hex(2)}"     # veth names: at most 15 characters
        subnet = 1 + secrets.randbelow(250)
        pair = cls(ns_a=f"t7hostA-{tag}", ns_b=f"t7hostB-{tag}", veth_a=f"t7a{tag}", veth_b=f"t7b{tag}",
                   ip_a=f"10.200.{subnet}.1", ip_b=f"10.200.{subnet}.2")
        made: list[str] = []
        try:
            for ns in (pair.ns_a, pair.ns_b):
                _ip("netns", "add", ns)
                made.append(ns)
            _ip("link", "add", pair.veth_a, "netns", pair.ns_a, "type", "veth",
                "peer", "name", pair.veth_b, "netns", pair.ns_b)
            for ns, dev, address in ((pair.ns_a, pair.veth_a, pair.ip_a), (pair.ns_b, pair.veth_b, pair.ip_b)):
                _ip("-n", ns, "addr", "add", f"{address}/30", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except NetnsUnavailable:
            for ns in made:
                _ip("netns", "del", ns, check=False)
            raise
        return pair

    def exec_argv(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def python(self, ns: str, code: str, *args: str, timeout: float = 30.0) -> str:
        """Run a short script with this venv's Python inside `ns`; return its stdout."""
        done = subprocess.run(self.exec_argv(ns, [sys.executable, "-c", code, *args]), capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise AssertionError(f"script in {ns} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def pids(self, ns: str) -> list[int]:
        done = _ip("netns", "pids", ns, check=False)
        return [int(p) for p in done.stdout.split()]

    def addresses(self, ns: str | None = None) -> str:
        """`ip -o addr` of a namespace (or of the caller's, when None)."""
        return (_ip("-n", ns, "-o", "addr") if ns else _ip("-o", "addr")).stdout

    def remove(self) -> None:
        """Delete both namespaces (the veth pair goes with them). Call after stopping every
        process started inside them; a leftover is reported, not killed blindly."""
        left = {ns: self.pids(ns) for ns in (self.ns_a, self.ns_b)}
        for ns in (self.ns_a, self.ns_b):
            _ip("netns", "del", ns, check=False)
        if any(left.values()):
            raise AssertionError(f"processes were still running in the namespaces: {left}")


# -- the relay ---------------------------------------------------------------------------

async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _relay(listen: tuple[str, int], target: tuple[str, int]) -> None:
    async def handle(reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, *listen)
    print(f"relay listening on {listen[0]}:{listen[1]} -> {target[0]}:{target[1]}", flush=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "relay":
        print("usage: python -m tests.support.netns relay LISTEN_HOST:PORT TARGET_HOST:PORT", file=sys.stderr)
        return 2
    try:
        asyncio.run(_relay(_address(args[1]), _address(args[2])))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
