"""Who is asking: the client address the throttle's limits count a request against."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_address(*, remote_addr: str, forwarded: str = "") -> str:
    """The address the limits count a request against.

    ``remote_addr``, unless trusted proxies are configured (``REGISTERFT_CLIENT_IP_HEADER``, whose
    value is ``forwarded``): then the address the outermost of them saw, counted from the right
    (what a client writes further left is ignored). An IPv6 client counts as its /64, which one
    device can otherwise rotate through at will.
    """
    raw = remote_addr
    if settings.REGISTERFT_CLIENT_IP_HEADER:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= settings.REGISTERFT_TRUSTED_PROXY_COUNT:
            raw = hops[-settings.REGISTERFT_TRUSTED_PROXY_COUNT]
    address = _parse_address(raw)
    if address is None:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
