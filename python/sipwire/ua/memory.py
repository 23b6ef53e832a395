"""An in-memory datagram network for user agents: no sockets, and faults under the test's
control — loss, duplication, delay and reordering drawn from a seeded generator, messages
dropped or rewritten by a rule, and raw bytes injected from any address.

Agents join it with ``UserAgent(network=net)``; everything they send passes through
:meth:`MemoryNetwork.send`, which records it in :attr:`MemoryNetwork.log`::

    net = MemoryNetwork(loss=0.2, duplicate=0.1, jitter=0.02, seed=7)
    async with UserAgent(network=net) as a, UserAgent(network=net) as b:
        ...
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from sipwire.ua.transport import Addr, OnMessage

#: A rule sees each datagram (bytes, source, destination) and returns it (possibly
#: rewritten), or None to drop it.
Rule = Callable[[bytes, Addr, Addr], bytes | None]


@dataclass(frozen=True)
class Sent:
    """One datagram handed to the network: when (loop time), from, to, what, and whether
    it was delivered (not lost or dropped by a rule)."""

    time: float
    source: Addr
    dest: Addr
    data: bytes
    delivered: bool


class MemoryTransport:
    """One agent's address on a :class:`MemoryNetwork` (a UDP-like transport)."""

    def __init__(self, net: MemoryNetwork, address: Addr, on_message: OnMessage) -> None:
        self._net = net
        self._address = address
        self.on_message = on_message

    @property
    def local_address(self) -> Addr:
        return self._address

    def send(self, data: bytes, dest: Addr) -> None:
        self._net.send(data, self._address, dest)

    async def close(self) -> None:
        self._net._members.pop(self._address, None)


class MemoryNetwork:
    """Datagrams between :class:`MemoryTransport` members, each delivered after ``delay``
    plus up to ``jitter`` seconds (reordering when jitter exceeds the gap between sends),
    lost with probability ``loss``, sent twice with probability ``duplicate``."""

    def __init__(
        self,
        *,
        loss: float = 0.0,
        duplicate: float = 0.0,
        delay: float = 0.001,
        jitter: float = 0.0,
        seed: int = 0,
    ) -> None:
        for name, p in (("loss", loss), ("duplicate", duplicate)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1), not {p}")
        if delay < 0 or jitter < 0:
            raise ValueError("delay and jitter must not be negative")
        self.loss = loss
        self.duplicate = duplicate
        self.delay = delay
        self.jitter = jitter
        self._random = random.Random(seed)
        self._members: dict[Addr, MemoryTransport] = {}
        self._next_port = 20000
        self.rules: list[Rule] = []
        self.log: list[Sent] = []

    def attach(self, host: str, port: int, on_message: OnMessage) -> MemoryTransport:
        """A new member at ``host:port`` (a free port when 0)."""
        if port == 0:
            while (host, self._next_port) in self._members:
                self._next_port += 1
            port = self._next_port
            self._next_port += 1
        addr = (host, port)
        if addr in self._members:
            raise ValueError(f"{host}:{port} is taken on this network")
        t = MemoryTransport(self, addr, on_message)
        self._members[addr] = t
        return t

    def send(self, data: bytes, source: Addr, dest: Addr) -> None:
        """Sends like a member at ``source`` would (also for injecting raw bytes)."""
        loop = asyncio.get_running_loop()
        out: bytes | None = data
        for rule in self.rules:
            if out is None:
                break
            out = rule(out, source, dest)
        lost = out is None or self._random.random() < self.loss
        self.log.append(Sent(loop.time(), source, dest, data, not lost))
        if out is None or lost:
            return
        copies = 2 if self._random.random() < self.duplicate else 1
        for _ in range(copies):
            after = self.delay + self._random.random() * self.jitter
            loop.call_later(after, self._deliver, out, source, dest)

    def _deliver(self, data: bytes, source: Addr, dest: Addr) -> None:
        member = self._members.get(dest)
        if member is not None:
            member.on_message(data, source)

    def drop(self, first_line: str, *, count: int | None = None) -> None:
        """Drops datagrams whose first line starts with ``first_line`` (``"ACK "``,
        ``"SIP/2.0 180"``...): all of them, or the next ``count``."""
        prefix = first_line.encode()
        left = [count]

        def rule(data: bytes, source: Addr, dest: Addr) -> bytes | None:
            if not data.startswith(prefix) or left[0] == 0:
                return data
            if left[0] is not None:
                left[0] -= 1
            return None

        self.rules.append(rule)

    def sent(self, first_line: str) -> list[Sent]:
        """What was sent whose first line starts with ``first_line``, in order."""
        prefix = first_line.encode()
        return [s for s in self.log if s.data.startswith(prefix)]
