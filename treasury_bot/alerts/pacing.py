"""When the sender sends and retries: pure rules over mails, counts and times, no I/O.

Which alerts make which mail is `digest.plan`; this module says how the planned mails are
cut into short write transactions, in which order mails go out, whether a pass must run
again at once, and how long to wait after a failure.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Mapping, Protocol, Sequence, TypeVar

from treasury_bot.alerts.digest import PlannedMail
from treasury_bot.alerts.model import CRITICAL

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0

ClaimPart = tuple[PlannedMail, int, Sequence[int]]  # (mail, index of its first alert, seqs)


class _Mail(Protocol):
    """What these rules read of a recorded mail (`ledger.MailRow`)."""

    @property
    def mail_id(self) -> int: ...

    @property
    def severity(self) -> str: ...


Row = TypeVar("Row", bound=_Mail)


def claim_groups(mails: Sequence[PlannedMail], chunk: int) -> list[list[ClaimPart]]:
    """The planned mails cut into (mail, start, seqs) parts of at most `chunk` alerts, and
    the parts grouped into write transactions of at most `chunk` alerts each (a part
    that would overflow the open group starts the next one)."""
    groups: list[list[ClaimPart]] = [[]]
    in_group = 0
    for mail in mails:
        for start in range(0, len(mail.seqs), chunk):
            part = mail.seqs[start:start + chunk]
            if in_group and in_group + len(part) > chunk:
                groups.append([])
                in_group = 0
            groups[-1].append((mail, start, part))
            in_group += len(part)
    return [group for group in groups if group]


def due_for_retry(mails: Iterable[Row], retry_at: Mapping[int, float], monotonic: float) -> list[Row]:
    """The mails left `sending` whose own backoff has passed (never tried here: due now)."""
    return [m for m in mails if retry_at.get(m.mail_id, 0.0) <= monotonic]


def send_order(mails: Iterable[Row]) -> list[Row]:
    """CRITICAL mails first, then the rest; oldest mail first within each."""
    return sorted(mails, key=lambda m: (m.severity != CRITICAL, m.mail_id))


def batch_full(severities: Iterable[str], batch: int) -> bool:
    """Whether a read of at most `batch` alerts per severity came back full for one of them:
    more may be waiting behind it."""
    return any(n >= batch for n in Counter(severities).values())


def retry_delay(attempts: int, start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> float:
    """How long a refused mail waits before its next try: start, 2x, 4x ... up to cap."""
    return min(cap, start * 2 ** (attempts - 1))


def next_backoff(previous: float, start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S) -> float:
    """The sender's wait after another failed pass (`previous` 0: the first failure)."""
    return start if previous == 0 else min(previous * 2, cap)
