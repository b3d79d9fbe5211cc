"""The signal bot's refusal to start: one typed error, raised by the start steps and the bootstrap."""

from __future__ import annotations


class StartupError(Exception):
    """The bot refuses to start; `code` is stable, the message one line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
