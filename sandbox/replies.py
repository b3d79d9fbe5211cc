"""What the HTTP layer sends back: JSON, Binance errors, gateway HTML pages, or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import msgspec

from sandbox.errors import ApiError

JSON_TYPE = "application/json;charset=UTF-8"
HTML_TYPE = "text/html"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False          # close the connection without answering


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, msgspec.json.encode(payload), JSON_TYPE, dict(headers or {}))


def error_reply(error: ApiError, headers: dict[str, str] | None = None) -> Reply:
    merged = dict(headers or {})
    merged.update(error.headers)
    return json_reply(error.body(), error.http_status, merged)


def html_error(status: int) -> Reply:
    """A gateway-style error page, as a load balancer in front of Binance would send."""
    title = f"{status} {HTTPStatus(status).phrase}"
    page = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n")
    return Reply(status, page.encode("ascii"), HTML_TYPE)


def dropped() -> Reply:
    return Reply(0, drop=True)


def admin_error(message: str, status: int = 400) -> Reply:
    return json_reply({"error": message}, status)
