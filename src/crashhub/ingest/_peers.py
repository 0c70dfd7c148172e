"""Addresses of peers as evidence: the IP a host report or a netconsole datagram came from.

One spelling per address, so a host's report over HTTP and its datagrams over UDP meet in one key:
an IPv4 peer of a dual-stack socket (``::ffff:10.0.0.5``) is its IPv4 address.
"""

from __future__ import annotations

import ipaddress

from crashhub.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_ip(host: str | None) -> str | None:
    """The canonical text of an IP address, or None when ``host`` is none (a test client's name)."""
    if not host:
        return None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def networks(spec: str, setting: str = "netconsole_allow") -> tuple[Network, ...]:
    """Comma-separated CIDRs (a bare address is its /32 or /128); ConfigError naming the bad one."""
    out = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{part!r} is not a network (CIDR such as 10.0.0.0/8)", setting) from None
    return tuple(out)


def in_networks(ip: str, nets: tuple[Network, ...]) -> bool:
    if not nets:
        return False
    addr = ipaddress.ip_address(ip)
    return any(addr.version == n.version and addr in n for n in nets)


def split_listen(spec: str, setting: str = "netconsole_listen") -> tuple[str, int]:
    """``ADDR:PORT`` or ``[ADDR]:PORT`` (IPv6) to (address, port); ConfigError when it is neither."""
    host, sep, port = spec.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{spec!r} is not ADDR:PORT (e.g. 0.0.0.0:6666)", setting)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{host!r} is not an IP address", setting) from None
    return host, int(port)
