"""Addresses as SIP writes them."""

from __future__ import annotations


def bracket(host: str) -> str:
    """``host`` as a URI, a Via sent-by or a warn-agent holds it: an IPv6 address in brackets
    (RFC 3261 §25.1 IPv6reference, RFC 5118 §4.10); other hosts, and a host already in
    brackets, as they are."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
