"""The alert mail server's settings (SMTP_*, ALERT_EMAIL_*), or None when SMTP_HOST is unset."""

from __future__ import annotations

from dataclasses import dataclass, field

from common.config.env import ConfigError, Env
from common.logs import register_secret


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    sender: str
    recipients: tuple[str, ...]

    def __repr__(self) -> str:  # the password never appears, not even masked
        return (f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"username={self.username!r}, sender={self.sender!r}, recipients={self.recipients!r})")


def load_smtp(env: Env) -> SmtpSettings | None:
    """SMTP settings, or None when SMTP_HOST is unset (alerts are then only logged)."""
    host = env.get("SMTP_HOST")
    if host is None:
        return None
    security = (env.get("SMTP_SECURITY", "starttls") or "starttls").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigError(f"SMTP_SECURITY must be starttls, ssl or none, not {security!r}")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    port = _int(env, "SMTP_PORT", default_port, 1, 65535)
    sender = env.require("ALERT_EMAIL_FROM")
    recipients = tuple(a.strip() for a in env.require("ALERT_EMAIL_TO").split(",") if a.strip())
    if not recipients:
        raise ConfigError("ALERT_EMAIL_TO must name at least one address")
    for address in (sender, *recipients):
        if "@" not in address or any(c in address for c in "\r\n <>"):
            raise ConfigError(f"ALERT_EMAIL_FROM/ALERT_EMAIL_TO: {address!r} is not an email address")
    username = env.get("SMTP_USERNAME")
    password = env.get("SMTP_PASSWORD")
    if (username is None) != (password is None):
        raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
    register_secret(password)
    return SmtpSettings(host, port, security, username, password, sender, recipients)


def _int(env: Env, name: str, default: int, low: int, high: int) -> int:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {text!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value
