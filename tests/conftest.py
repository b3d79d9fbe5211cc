"""Suite-wide fixtures. Server fixtures live beside the suites that use them."""

from __future__ import annotations
