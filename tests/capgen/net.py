"""Packets for the test captures: link layers, IP, TCP flows, WebSocket frames, SCTP DATA and
HEPv3, built with scapy where it has the layer and by hand where it has not (HEP, WebSocket
frames, the BSD loopback header). Every field that scapy would fill from the host (MAC
addresses, IP ids, TCP windows) is fixed here, so the bytes are the same on every run.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.layers.sctp import SCTP, SCTPChunkData
from scapy.packet import Packet, Raw

from .sip import Addr, Sip

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


def is_v6(ip: str) -> bool:
    return ":" in ip


def ip_header(src: str, dst: str, *, ip_id: int = 1) -> Packet:
    """An IPv4 or IPv6 header, chosen by the addresses."""
    if is_v6(src):
        return IPv6(src=src, dst=dst, hlim=64)
    return IP(src=src, dst=dst, id=ip_id, ttl=64, flags="DF")


def udp(src: Addr, dst: Addr, payload: bytes, *, ip_id: int = 1) -> Packet:
    return ip_header(src[0], dst[0], ip_id=ip_id) / UDP(sport=src[1], dport=dst[1]) / Raw(payload)


def sip_udp(m: Sip, *, ip_id: int = 1) -> Packet:
    return udp(m.src, m.dst, m.data, ip_id=ip_id)


# Link layers: each takes an IP packet and returns the frame's bytes.


def ether(pkt: Packet, *, vlans: Sequence[tuple[int, int]] = ()) -> bytes:
    """Ethernet II; ``vlans`` is the tag stack outermost first, as (TPID, VLAN id): 0x8100
    for 802.1Q, 0x88a8 for the 802.1ad service tag of QinQ."""
    frame: Packet = Ether(src=MAC_A, dst=MAC_B)
    for tpid, vid in vlans:
        frame = frame / (Dot1AD(vlan=vid) if tpid == 0x88A8 else Dot1Q(vlan=vid))
    return bytes(frame / pkt)


def sll(pkt: Packet) -> bytes:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16 bytes): packet type, ARPHRD, address."""
    proto = 0x86DD if isinstance(pkt, IPv6) else 0x0800
    hdr = CookedLinux(
        pkttype=0,
        lladdrtype=1,
        lladdrlen=6,
        src=bytes.fromhex("02000000000a") + b"\0\0",
        proto=proto,
    )
    return bytes(hdr / pkt)


def sll2(pkt: Packet) -> bytes:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20 bytes): protocol first, then the
    interface index, ARPHRD, packet type and address."""
    proto = 0x86DD if isinstance(pkt, IPv6) else 0x0800
    hdr = CookedLinuxV2(
        proto=proto,
        ifindex=3,
        lladdrtype=1,
        pkttype=4,
        lladdrlen=6,
        src=bytes.fromhex("02000000000a") + b"\0\0",
    )
    return bytes(hdr / pkt)


def null(pkt: Packet, *, af: int | None = None) -> bytes:
    """BSD loopback (LINKTYPE_NULL): the address family as a 4-byte integer in the capturing
    host's byte order (little-endian here). AF_INET is 2; AF_INET6 is 24 (NetBSD, OpenBSD),
    28 (FreeBSD) or 30 (macOS)."""
    if af is None:
        af = 30 if isinstance(pkt, IPv6) else 2
    return struct.pack("<I", af) + bytes(pkt)


def raw(pkt: Packet) -> bytes:
    return bytes(pkt)


class TcpFlow:
    """One TCP direction: segments with sequence numbers counted from its initial one."""

    def __init__(self, src: Addr, dst: Addr, isn: int, *, peer_isn: int = 0x10000) -> None:
        self.src, self.dst, self.isn = src, dst, isn
        self.next = 1  # relative sequence number of the next new byte (after the SYN)
        self.ack = peer_isn + 1
        self.ip_id = 100

    def syn(self, *, ack: bool = False) -> Packet:
        return self._seg(b"", rel=0, flags="SA" if ack else "S")

    def seg(self, payload: bytes, *, rel: int | None = None, flags: str = "PA") -> Packet:
        """A segment carrying ``payload`` at relative sequence number ``rel`` (default: the
        next new byte, advancing it)."""
        if rel is None:
            rel = self.next
        self.next = max(self.next, rel + len(payload))
        return self._seg(payload, rel=rel, flags=flags)

    def _seg(self, payload: bytes, *, rel: int, flags: str) -> Packet:
        self.ip_id += 1
        tcp = TCP(
            sport=self.src[1],
            dport=self.dst[1],
            seq=(self.isn + rel) & 0xFFFFFFFF,
            ack=self.ack if "A" in flags else 0,
            flags=flags,
            window=65535,
        )
        pkt = ip_header(self.src[0], self.dst[0], ip_id=self.ip_id) / tcp
        return pkt / Raw(payload) if payload else pkt


def handshake(c: TcpFlow, s: TcpFlow) -> list[Packet]:
    """SYN, SYN-ACK, ACK between a client direction and a server direction."""
    c.ack = s.isn + 1
    s.ack = c.isn + 1
    return [c.syn(), s.syn(ack=True), c._seg(b"", rel=1, flags="A")]


def ws_frame(
    payload: bytes, *, opcode: int = 1, fin: bool = True, mask: bytes | None = None
) -> bytes:
    """A WebSocket frame (RFC 6455 §5.2); a client's frames are masked (§5.3)."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if mask:
        assert len(mask) == 4
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def sctp_data(
    src: Addr,
    dst: Addr,
    chunks: Sequence[tuple[int, int, bytes, bool, bool]],
    *,
    vtag: int = 0x5C1F00D,
) -> Packet:
    """An SCTP packet of DATA chunks (RFC 4960 §3.3.1), each (TSN, stream sequence, bytes,
    B flag, E flag), stream 0, PPID 0 (RFC 4168 §5: SIP uses none)."""
    pkt = ip_header(src[0], dst[0]) / SCTP(sport=src[1], dport=dst[1], tag=vtag)
    for tsn, ssn, data, b, e in chunks:
        pkt = pkt / SCTPChunkData(
            tsn=tsn,
            stream_id=0,
            stream_seq=ssn,
            proto_id=0,
            beginning=int(b),
            ending=int(e),
            data=data,
        )
    return pkt


def hep3(
    m: Sip, time_ns: int, *, agent: int = 2001, proto_type: int = 1, payload: bytes | None = None
) -> bytes:
    """A HEPv3 packet carrying ``m`` with its own addresses and time (HEP3 rev 12: "HEP3",
    total length, then chunks of vendor 0, type, length (with the 6-byte chunk header)).
    ``proto_type`` 1 is SIP; another type carries ``payload`` instead of the message."""

    def chunk(ctype: int, value: bytes) -> bytes:
        return struct.pack(">HHH", 0, ctype, 6 + len(value)) + value

    v6 = is_v6(m.src[0])
    sec, ns = divmod(time_ns, 1_000_000_000)
    assert ns % 1000 == 0, "HEP carries microseconds"
    proto = {"udp": 17, "tcp": 6, "sctp": 132}.get(m.transport, 17)
    body = chunk(1, bytes([10 if v6 else 2]))  # IP family
    body += chunk(2, bytes([proto]))  # IP protocol
    src, dst = ipaddress.ip_address(m.src[0]).packed, ipaddress.ip_address(m.dst[0]).packed
    body += chunk(5 if v6 else 3, src) + chunk(6 if v6 else 4, dst)
    body += chunk(7, struct.pack(">H", m.src[1])) + chunk(8, struct.pack(">H", m.dst[1]))
    body += chunk(9, struct.pack(">I", sec)) + chunk(10, struct.pack(">I", ns // 1000))
    body += chunk(11, bytes([proto_type]))  # protocol type
    body += chunk(12, struct.pack(">I", agent))  # capture agent id
    body += chunk(15, m.data if payload is None else payload)  # the captured payload
    return b"HEP3" + struct.pack(">H", 6 + len(body)) + body
