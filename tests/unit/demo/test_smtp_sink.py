"""demo/smtp_sink.py: what is printed for a mail (the real SMTP round trip is in
tests/integration/demo/test_smtp_sink.py)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from demo.smtp_sink import format_mail


def mail(subject: str = "[treasury][INFO] withdrawal completed: 490 USDT") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "t@demo.invalid", "o@demo.invalid", subject
    message["Date"], message["Message-ID"] = formatdate(), make_msgid()
    message.set_content("Intent id: sw-1\nStatus: completed\n")
    return message


def test_a_mail_is_printed_with_subject_headers_and_body():
    """The summary line, every header, the body, and the end marker."""
    lines = format_mail(2, "t@demo.invalid", ["o@demo.invalid"], bytes(mail()))
    assert lines[0] == "mail 2 received: [treasury][INFO] withdrawal completed: 490 USDT"
    assert any(line.startswith("  Message-ID: <") for line in lines)
    assert any(line.startswith("  Date: ") for line in lines)
    assert "  Status: completed" in lines and lines[-1] == "end of mail 2"
