"""The SMTP transport: one logged-in connection as SMTP_SECURITY says, one mail sent on it,
the connection closed; which errors mean "this mail refused" and which "server gone";
and the one mail sent outside the outbox (`treasuryctl alerts test`).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from common.clock import Clock, SystemClock
from common.config import SmtpSettings
from common.logs import scrub
from treasury_bot.alerts import events, render
from treasury_bot.alerts.formats import describe_error

SMTP_TIMEOUT_S = 10.0

# The server answered "no" to this one message; the connection is still good.
MESSAGE_REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
# Anything else the transport raises: the server or the connection is gone (or refused us).
SMTP_ERRORS = (OSError, smtplib.SMTPException)


def message_id_domain(sender: str) -> str:
    """Message-IDs use the sender's own domain: stable for a deployment, and never a
    lookup of this host's name."""
    _, at, domain = sender.rpartition("@")
    domain = domain.strip().strip(">")
    return domain if at and domain else "treasury-bot.invalid"


def connect(settings: SmtpSettings, timeout: float = SMTP_TIMEOUT_S) -> smtplib.SMTP:
    """One logged-in SMTP connection, as SMTP_SECURITY says. `starttls` never falls back
    to plain text: a server that does not offer STARTTLS is an error."""
    helo_name = socket.gethostname() or "treasury-bot"  # getfqdn() may block on DNS
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=helo_name,
                                                timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, local_hostname=helo_name, timeout=timeout)
    try:
        client.ehlo()
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password or "")
    except BaseException:
        close_quietly(client)
        raise
    return client


def close_quietly(client: smtplib.SMTP) -> None:
    """QUIT politely; a connection that cannot even do that is just closed."""
    try:
        client.quit()
    except SMTP_ERRORS:
        client.close()


def deliver(client: smtplib.SMTP, settings: SmtpSettings, msg: EmailMessage) -> dict:
    """Send one mail; return the recipients the server refused (all refused raises)."""
    return client.send_message(msg, from_addr=settings.sender, to_addrs=list(settings.recipients))


def send_test_mail(smtp: SmtpSettings | None, clock: Clock | None = None,
                   timeout: float = SMTP_TIMEOUT_S) -> tuple[bool, str]:
    """`treasuryctl alerts test`: send one test mail now, outside the outbox.
    Returns (accepted by the server, a line for the operator)."""
    if smtp is None:
        return False, "SMTP_HOST is not set: alerts are only written to the log"
    now = (clock or SystemClock()).now_ms()
    where = f"{smtp.host}:{smtp.port} ({smtp.security})"
    alert = events.mail_test(at_ms=now, detail=f"sent by treasuryctl alerts test through {where}")
    msg = render.message([alert], mail_from=smtp.sender, mail_to=smtp.recipients,
                         message_id=make_msgid("alert-test", domain=message_id_domain(smtp.sender)),
                         date_ms=now)
    try:
        client = connect(smtp, timeout)
        try:
            refused = deliver(client, smtp, msg)
        finally:
            close_quietly(client)
    except SMTP_ERRORS as exc:
        return False, f"not accepted by {where}: {describe_error(exc)}"
    accepted = [r for r in smtp.recipients if r not in refused]
    detail = f"accepted by {where} for {', '.join(accepted)} (Message-ID {msg['Message-ID']})"
    if refused:
        detail += f"; refused for {', '.join(sorted(refused))}"
    return True, scrub(detail)
