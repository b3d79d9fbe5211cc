"""A local SMTP server (aiosmtpd) that prints every mail it receives: the demo's mailbox.

    python -m demo.smtp_sink [--host 127.0.0.1] [--port 7725]

Each mail is printed whole: a `mail N received: SUBJECT` line, the envelope, every header
(`Date`, `Message-ID`, ...), the body, then `end of mail N`. It accepts every mail, keeps
nothing, and stops with exit status 0 on SIGTERM or SIGINT. Loopback only: it is a sink for
the treasury's alerts in the demo, not a mail server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Sequence

from aiosmtpd.smtp import SMTP


def format_mail(number: int, mail_from: str, rcpt_tos: Sequence[str], raw: bytes) -> list[str]:
    """The lines printed for one received mail (pure)."""
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    subject = " ".join(str(message.get("Subject", "(no subject)")).split())
    lines = [f"mail {number} received: {subject}",
             f"  envelope: from {mail_from} to {', '.join(rcpt_tos)}"]
    lines += [f"  {name}: {' '.join(str(value).split())}" for name, value in message.items()]
    lines.append("")
    lines += ["  " + line for line in _body(message).replace("\r\n", "\n").rstrip("\n").split("\n")]
    lines.append(f"end of mail {number}")
    return lines


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",)) if message.is_multipart() else message
    if part is None:
        return "(no text part)"
    try:
        return part.get_content()
    except (LookupError, ValueError):
        return part.get_payload(decode=True).decode("utf-8", "replace")


class PrintingHandler:
    """aiosmtpd handler: print the mail, accept it."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.count += 1
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        for line in format_mail(self.count, envelope.mail_from, envelope.rcpt_tos, raw):
            print(line)
        sys.stdout.flush()
        return "250 OK: printed"


async def serve(host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    handler = PrintingHandler()
    server = await loop.create_server(lambda: SMTP(handler, hostname="smtp-sink.demo.invalid"), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp sink listening on {host}:{port}; every mail is printed here", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()
    print(f"smtp sink stopped after {handler.count} mail(s)", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.smtp_sink", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7725, help="port to listen on (default 7725)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)   # aiosmtpd's per-connection chatter stays quiet
    try:
        return asyncio.run(serve(args.host, args.port))
    except OSError as exc:
        print(f"smtp sink: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
