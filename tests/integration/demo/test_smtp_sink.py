"""demo/smtp_sink.py: what is printed for a mail, and a real SMTP round trip."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tests.support.ports import free_port
from tests.support.waiting import wait_until


def mail(subject: str = "[treasury][INFO] withdrawal completed: 490 USDT") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "t@demo.invalid", "o@demo.invalid", subject
    message["Date"], message["Message-ID"] = formatdate(), make_msgid()
    message.set_content("Intent id: sw-1\nStatus: completed\n")
    return message


def test_the_sink_prints_each_mail_it_receives_and_stops_cleanly_on_sigterm(tmp_path):
    """A real server process: smtplib sends, the sink prints, SIGTERM exits 0."""
    port = free_port()
    log = tmp_path / "sink.log"
    with open(log, "ab") as out:
        sink = subprocess.Popen([sys.executable, "-m", "demo.smtp_sink", "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "listening" in log.read_text(), timeout=15, what="the sink to listen")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(mail())
        wait_until(lambda: "end of mail 1" in log.read_text(), timeout=10, what="the mail printed")
    finally:
        sink.terminate()
        assert sink.wait(10) == 0
    text = log.read_text()
    assert "mail 1 received: [treasury][INFO] withdrawal completed" in text
    assert "smtp sink stopped after 1 mail(s)" in text
