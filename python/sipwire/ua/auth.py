"""Digest authentication for requests (RFC 2617, RFC 8760, RFC 3261 §22).

The challenge is parsed by the Rust core (:func:`sipwire.parse_challenge`); this module only
hashes. Algorithms: MD5, SHA-256 and SHA-512-256, each with its ``-sess`` variant; qop
``auth`` preferred to ``auth-int``; nonce counts per nonce.

Credentials answer only the challengers they were given for (RFC 3261 §22.1 leaves the
choice to the UA; a challenge from anyone else would let that party crack the password
offline): :meth:`DigestClient.allows` checks the realm and the host the challenge came
from. Among several challenges the strongest supported one is answered (RFC 8760 §2.4).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from sipwire._sipwire import LocalProtocolError, parse_challenge

_HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def _hasher(algorithm: str) -> str:
    base = algorithm.upper().removesuffix("-SESS")
    name = _HASHES.get(base)
    if name is None:
        raise LocalProtocolError(
            f"digest algorithm {algorithm!r} is not supported (MD5, SHA-256, SHA-512-256 "
            "and their -sess forms are)"
        )
    return name


def _h(name: str, data: str | bytes) -> str:
    b = data.encode() if isinstance(data, str) else data
    return hashlib.new(name, b).hexdigest()


# RFC 8760 §2.4: the strongest first.
_STRENGTH = {"SHA-512-256": 3, "SHA-256": 2, "MD5": 1}


def strength(challenge: str) -> int:
    """How strong a challenge's algorithm is (0: not a Digest this client answers)."""
    try:
        scheme, p = parse_challenge(challenge, strict=False)
    except ValueError:
        return 0
    if scheme.lower() != "digest" or "nonce" not in p:
        return 0
    return _STRENGTH.get(p.get("algorithm", "MD5").upper().removesuffix("-SESS"), 0)


def realm_of(challenge: str) -> str | None:
    try:
        return parse_challenge(challenge, strict=False)[1].get("realm")
    except ValueError:
        return None


@dataclass
class DigestClient:
    """Answers digest challenges for one user; remembers nonce counts (RFC 2617 §3.2.2).

    ``realms`` and ``hosts`` bind the credentials: a challenge is answered only when its
    realm is one of ``realms`` (any realm when empty) and it came from one of ``hosts`` (IP
    addresses; any host when None). The password never appears in a repr."""

    username: str
    password: str = field(repr=False)
    realms: frozenset[str] = frozenset()
    hosts: set[str] | None = None
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    def allows(self, challenge: str, source: str | None) -> bool:
        """Whether this challenge, received from ``source`` (an IP address), may be
        answered with these credentials."""
        if self.realms and realm_of(challenge) not in self.realms:
            return False
        if self.hosts is not None and (source is None or source not in self.hosts):
            return False
        return strength(challenge) > 0

    def choose(self, challenges: list[str], source: str | None) -> str | None:
        """The strongest challenge this client may answer, or None."""
        ok = [c for c in challenges if self.allows(c, source)]
        return max(ok, key=strength) if ok else None

    def authorization(
        self,
        challenge: str,
        *,
        method: str,
        uri: str,
        body: bytes = b"",
        cnonce: str | None = None,
    ) -> str:
        """The Authorization (or Proxy-Authorization) value answering ``challenge`` (a
        WWW-Authenticate or Proxy-Authenticate value) for a request. ``cnonce`` is drawn
        at random unless given (for known-answer tests)."""
        scheme, p = parse_challenge(challenge, strict=False)
        if scheme.lower() != "digest":
            raise LocalProtocolError(f"cannot answer a {scheme!r} challenge: only Digest")
        realm, nonce = p.get("realm", ""), p.get("nonce")
        if nonce is None:
            raise LocalProtocolError("the Digest challenge has no nonce")
        algorithm = p.get("algorithm", "MD5")
        name = _hasher(algorithm)
        qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
        qop = "auth" if "auth" in qops else ("auth-int" if "auth-int" in qops else None)
        cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
        ha1 = _h(name, f"{self.username}:{realm}:{self.password}")
        if algorithm.upper().endswith("-SESS"):
            ha1 = _h(name, f"{ha1}:{nonce}:{cnonce}")
        if qop == "auth-int":
            ha2 = _h(name, f"{method}:{uri}:{_h(name, body)}")
        else:
            ha2 = _h(name, f"{method}:{uri}")
        parts = [
            f'username="{self.username}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{uri}"',
        ]
        if qop is not None:
            nc = self._counts.get(nonce, 0) + 1
            self._counts[nonce] = nc
            ncs = f"{nc:08x}"
            response = _h(name, f"{ha1}:{nonce}:{ncs}:{cnonce}:{qop}:{ha2}")
            parts += [f"qop={qop}", f"nc={ncs}", f'cnonce="{cnonce}"']
        else:
            response = _h(name, f"{ha1}:{nonce}:{ha2}")
        parts.append(f'response="{response}"')
        parts.append(f"algorithm={algorithm}")
        if "opaque" in p:
            parts.append(f'opaque="{p["opaque"]}"')
        return "Digest " + ", ".join(parts)
