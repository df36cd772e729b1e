"""Who is the client: the peer address, or a forwarded address vouched for by trusted proxies.

A forwarding header is believed only as far as trusted proxies vouch for it:
the chain is walked from the right (the hop nearest to us), skipping trusted
proxies, and the first address that is not a trusted proxy is the client.
Anything a client wrote into the header itself sits further left and is never
reached. From an untrusted peer the header is ignored entirely.

Only one header is read (``X-Forwarded-For`` by default, or RFC 7239
``Forwarded``): a proxy appends to one of them, and reading the other would
let a client put any address there.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

__all__ = ["PROXY_HEADERS", "TrustedProxies", "forwarded_for", "parse_proxies"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PROXY_HEADERS = ("x-forwarded-for", "forwarded")
MAX_HOPS = 32  # a longer chain is not walked further (bounded work per request)
# one forwarded-element pair: token=token or token="quoted string" (RFC 7230 quoting)
_PAIR = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,"\s]*)\s*')
_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$")


def parse_proxies(value: str | Iterable[str] | None) -> tuple[Network, ...]:
    """Networks from ``"10.0.0.1, 192.168.0.0/16, ::1"`` (or a list of such strings).

    Raises:
        ValueError: naming the entry that is not an IP address or CIDR network.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    networks: list[Network] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(
                f"trusted proxy {text!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _node(value: str) -> str | None:
    """The address in a Forwarded ``for=`` value or an X-Forwarded-For entry (ports dropped)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.startswith("["):  # "[2001:db8::1]:4711"
        end = text.find("]")
        text = text[1:end] if end > 0 else ""
    else:
        with_port = _PORT.match(text)
        if with_port:
            text = with_port.group(1)
    address = _ip(text)
    if address is not None:
        return str(address)
    if text.startswith("_") and len(text) <= 64 and text[1:].replace("-", "").isalnum():
        return text  # an RFC 7239 obfuscated identifier: stable per client by design
    return None  # "unknown" or garbage: the chain ends here


def forwarded_for(header: str) -> list[str | None]:
    """The ``for=`` nodes of an RFC 7239 ``Forwarded`` value, left to right (None: unusable)."""
    nodes: list[str | None] = []
    pos, end = 0, len(header)
    while pos < end and len(nodes) < MAX_HOPS * 4:
        node: str | None = None
        seen_for = False
        while pos < end:
            match = _PAIR.match(header, pos)
            if match is None:
                return [*nodes, None]  # malformed: nothing left of here can be trusted
            if match.group(1).lower() == "for":
                node, seen_for = _node(match.group(2)), True
            pos = match.end()
            if pos >= end or header[pos] == ",":
                break
            if header[pos] != ";":
                return [*nodes, None]
            pos += 1
        nodes.append(node if seen_for else None)
        pos += 1  # past the comma
    return nodes


class TrustedProxies:
    """Picks the client address of a request given the proxies in front of the app.

    Args:
        proxies: trusted proxy addresses and networks (``"10.0.0.0/8"``, ``"::1"``).
        header: ``"x-forwarded-for"`` (default) or ``"forwarded"`` (RFC 7239).
    """

    def __init__(
        self, proxies: str | Iterable[str] | None = None, header: str = "x-forwarded-for"
    ) -> None:
        if header not in PROXY_HEADERS:
            raise ValueError(f"proxy header {header!r} is not one of {', '.join(PROXY_HEADERS)}")
        self.networks = parse_proxies(proxies)
        self.header = header
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusted(self, address: str) -> bool:
        """True when `address` is one of the trusted proxies."""
        known = self._cache.get(address)
        if known is not None:
            return known
        ip = _ip(address)
        answer = ip is not None and any(ip in net for net in self.networks)
        if len(self._cache) >= 4096:
            self._cache.clear()  # bounded: peers are few, forwarded addresses many
        self._cache[address] = answer
        return answer

    def client(self, peer: str | None, header_value: str | None) -> str:
        """The client address: `peer` unless trusted proxies vouch for a forwarded one."""
        peer = peer or "unknown"
        if not header_value or not self.networks or not self.trusted(peer):
            return peer
        if self.header == "forwarded":
            hops = forwarded_for(header_value)
        else:
            hops = [_node(part) for part in header_value.split(",")[-MAX_HOPS:]]
        client = peer
        for hop in reversed(hops[-MAX_HOPS:]):
            if hop is None:
                return client  # unusable entry: the last vouched-for address is the client
            client = hop
            if not self.trusted(hop):
                return hop
        return client  # every hop is a trusted proxy: the leftmost one
