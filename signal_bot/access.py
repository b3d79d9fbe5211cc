"""Who may call the webhook: an optional source-address allow-list (pure).

`[access]` in signal.toml (config_file.Access): `allow` lists addresses and networks
(CIDR) and presets; empty allows any address (the passphrase or X-Signature still
decides). The preset `tradingview` is the four IPv4 addresses TradingView posts its
webhooks from (https://www.tradingview.com/support/solutions/43000529348 : 52.89.214.238,
34.212.75.30, 54.218.53.128, 52.32.178.7).

`X-Forwarded-For` is believed only when the connection comes from one of
`trusted_proxies` (the Caddy/nginx front, docs/deployment.md): the caller is then the
right-most address of the header that is not itself a trusted proxy. From any other peer
the header is ignored, so nobody can claim to be TradingView by writing a header.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PRESETS: dict[str, tuple[str, ...]] = {
    # https://www.tradingview.com/support/solutions/43000529348 (webhook source addresses)
    "tradingview": ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"),
}


class AccessError(ValueError):
    """An allow-list or trusted-proxy entry that is neither an address, a network nor a preset."""


def networks(entries: Iterable[str], *, presets: bool = True) -> tuple[Network, ...]:
    out: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if presets and text.lower() in PRESETS:
            out.extend(ipaddress.ip_network(a) for a in PRESETS[text.lower()])
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            known = f" or a preset ({', '.join(PRESETS)})" if presets else ""
            raise AccessError(f"{entry[:60]!r} is not an IP address or network{known}") from None
    return tuple(out)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:        # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:                      # v4:port
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _within(address, nets: tuple[Network, ...]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in nets)


@dataclass(frozen=True)
class AccessRules:
    allow: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow: Iterable[str] = (), trusted_proxies: Iterable[str] = ()) -> "AccessRules":
        return cls(networks(allow), networks(trusted_proxies, presets=False))

    def caller(self, peer: str, forwarded_for: str | None) -> str:
        """The caller's address: the peer, or from a trusted proxy the header's first untrusted hop."""
        peer_address = _address(peer)
        if forwarded_for is None or not _within(peer_address, self.trusted_proxies):
            return str(peer_address) if peer_address is not None else peer
        hops = [h for h in forwarded_for.split(",") if h.strip()]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return hop.strip()[:64]           # not an address: never in an allow-list
            if not _within(address, self.trusted_proxies):
                return str(address)
        return str(peer_address)

    def allows(self, caller: str) -> bool:
        return not self.allow or _within(_address(caller), self.allow)
