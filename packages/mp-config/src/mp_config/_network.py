"""Telling loopback addresses from the rest, for the TLS-off-loopback rule."""

from __future__ import annotations

import ipaddress

__all__ = ["is_local_host"]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_local_host(host: str) -> bool:
    """True for a Unix socket path, ``localhost`` or a loopback IP address.

    Traffic to such a host never leaves the machine, so plaintext is acceptable there; anything
    else is treated as a network hop that needs verified TLS.
    """
    candidate = host.strip()
    if candidate.startswith("/"):
        return True
    if candidate.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(candidate.strip("[]")).is_loopback
    except ValueError:
        return False
