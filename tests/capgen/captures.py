"""The test captures of issue 12, one ``write_xxx(path) -> Expected`` per layer or case.

Each writes a small capture (a few KB) to ``path`` and returns the SIP messages it holds, with
the frame and time of each, so the tests check sipwire against these and against tshark.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    fragment6,
)
from scapy.layers.l2 import ARP, GRE, Ether
from scapy.layers.sctp import SCTP, SCTPChunkSACK
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from . import net
from .model import Builder, Expected
from .pcapfile import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    Interface,
    Section,
    gzip_copy,
    interface_statistics_block,
    write_pcap,
    write_pcapng,
    zstd_copy,
)
from .sip import Addr, Sip, call, request, response, sdp

A4: Addr = ("192.0.2.10", 5060)
B4: Addr = ("198.51.100.20", 5060)
A6: Addr = ("2001:db8::a", 5060)
B6: Addr = ("2001:db8::b", 5060)
# Tunnel endpoints (the outer addresses, never in the messages table).
OUTER_A, OUTER_B = "203.0.113.1", "203.0.113.2"


def cid(name: str, n: int = 1) -> str:
    return f"{name}-{n}@capgen.test"


def options(call_id: str, a: Addr, b: Addr, *, transport: str = "udp", cseq: int = 1) -> list[Sip]:
    """An OPTIONS and its 200."""
    req = request("OPTIONS", call_id, cseq, a, b, transport=transport)
    return [req, response(req, 200)]


# ---------------------------------------------------------------- files: pcap and pcapng


def _pcap_call(path: Path, name: str, *, nanos: bool, big_endian: bool) -> Expected:
    """Ethernet, an ARP frame, then a whole call over UDP."""
    b = Builder(extra_ns=123 if nanos else 0)
    arp = Ether(src=net.MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(
        psrc=A4[0], pdst=B4[0], hwsrc=net.MAC_A
    )
    b.add(bytes(arp))
    for i, m in enumerate(call(cid(name), A4, B4)):
        b.add(net.ether(net.sip_udp(m, ip_id=i + 1)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET, nanos=nanos, big_endian=big_endian)
    return b.expected(name, path)


def write_pcap_us_le(path: Path) -> Expected:
    """Classic pcap, microseconds, little-endian."""
    return _pcap_call(path, "pcap_us_le", nanos=False, big_endian=False)


def write_pcap_us_be(path: Path) -> Expected:
    """Classic pcap, microseconds, big-endian."""
    return _pcap_call(path, "pcap_us_be", nanos=False, big_endian=True)


def write_pcap_ns_le(path: Path) -> Expected:
    """Classic pcap, nanoseconds (times that are not whole µs), little-endian."""
    return _pcap_call(path, "pcap_ns_le", nanos=True, big_endian=False)


def write_pcap_ns_be(path: Path) -> Expected:
    """Classic pcap, nanoseconds, big-endian."""
    return _pcap_call(path, "pcap_ns_be", nanos=True, big_endian=True)


def write_pcapng_sections(path: Path) -> Expected:
    """pcapng with two sections of their own byte order, each with several interfaces of
    different link types and ``if_tsresol``; interface ids start again at 0 in section 2,
    and an Interface Statistics Block sits between the packets."""
    name = "pcapng"
    b = Builder()
    s1 = Section(
        [
            Interface(LINKTYPE_ETHERNET, name="eth0"),  # no if_tsresol: µs
            Interface(LINKTYPE_RAW, tsresol=9, name="raw0"),  # ns
            Interface(LINKTYPE_LINUX_SLL, tsresol=3, name="any"),  # ms
        ]
    )
    s2 = Section(
        [
            Interface(LINKTYPE_NULL, tsresol=0x80 | 10, name="lo0"),  # 2^-10 s
            Interface(LINKTYPE_ETHERNET, tsresol=6, name="eth1"),  # µs, said explicitly
        ],
        big_endian=True,
    )
    c1 = call(cid(name, 1), A4, B4)
    links1 = [(0, net.ether), (1, net.raw), (2, net.sll)]
    for i, m in enumerate(c1):
        iface, link = links1[i % 3]
        b.add(link(net.sip_udp(m, ip_id=i + 1)), [m], iface=iface)
    s1.records = b.records[:]
    s1.extra_blocks.append(interface_statistics_block("<", 0, s1.interfaces[0].ticks(b.t0)))
    c2 = options(cid(name, 2), A6, B6) + options(cid(name, 3), A4, B4)
    links2 = [(0, net.null), (1, net.ether), (1, net.ether), (0, net.null)]
    for (iface, link), m in zip(links2, c2):
        b.add(link(net.sip_udp(m)), [m], iface=iface)
    s2.records = b.records[len(s1.records) :]
    write_pcapng(path, [s1, s2])
    return b.expected(name, path)


# ---------------------------------------------------------------- link layers


def _link(
    path: Path, name: str, linktype: int, frame: Callable[[Packet], bytes], *, v6: bool = True
) -> Expected:
    b = Builder()
    msgs = options(cid(name, 1), A4, B4) + (options(cid(name, 2), A6, B6) if v6 else [])
    for i, m in enumerate(msgs):
        b.add(frame(net.sip_udp(m, ip_id=i + 1)), [m])
    write_pcap(path, b.records, linktype)
    return b.expected(name, path)


def write_vlan(path: Path) -> Expected:
    """Ethernet with an 802.1Q tag (VLAN 100)."""
    return _link(path, "vlan", LINKTYPE_ETHERNET, lambda p: net.ether(p, vlans=[(0x8100, 100)]))


def write_qinq(path: Path) -> Expected:
    """QinQ: an 802.1ad service tag (0x88a8, VLAN 200) over an 802.1Q tag (VLAN 100)."""
    return _link(
        path,
        "qinq",
        LINKTYPE_ETHERNET,
        lambda p: net.ether(p, vlans=[(0x88A8, 200), (0x8100, 100)]),
    )


def write_sll(path: Path) -> Expected:
    """Linux cooked capture v1 (link type 113), IPv4 and IPv6."""
    return _link(path, "sll", LINKTYPE_LINUX_SLL, net.sll)


def write_sll2(path: Path) -> Expected:
    """Linux cooked capture v2 (link type 276), IPv4 and IPv6."""
    return _link(path, "sll2", LINKTYPE_LINUX_SLL2, net.sll2)


def write_raw_ip(path: Path) -> Expected:
    """Raw IP (link type 101), IPv4 and IPv6."""
    return _link(path, "raw_ip", LINKTYPE_RAW, net.raw)


def write_null(path: Path) -> Expected:
    """BSD loopback (link type 0): AF_INET, and AF_INET6 as each BSD numbers it (24, 28, 30)."""
    name = "null"
    b = Builder()
    msgs = (
        options(cid(name, 1), A4, B4)
        + options(cid(name, 2), A6, B6)
        + options(cid(name, 3), A6, B6)
    )
    afs = [2, 2, 24, 28, 30, 30]
    for i, (m, af) in enumerate(zip(msgs, afs)):
        b.add(net.null(net.sip_udp(m, ip_id=i + 1), af=af), [m])
    write_pcap(path, b.records, LINKTYPE_NULL)
    return b.expected(name, path)


# ---------------------------------------------------------------- tunnels


def _outer(inner: Packet, proto: int) -> Packet:
    return IP(src=OUTER_A, dst=OUTER_B, id=7, ttl=64, proto=proto) / inner


def write_ipip(path: Path) -> Expected:
    """IP-in-IP: IPv4 in IPv4 (protocol 4) and IPv6 in IPv4 (protocol 41)."""
    name = "ipip"
    b = Builder()
    for m in options(cid(name, 1), A4, B4):
        b.add(net.ether(_outer(net.sip_udp(m), 4)), [m])
    for m in options(cid(name, 2), A6, B6):
        b.add(net.ether(_outer(net.sip_udp(m), 41)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_gre(path: Path) -> Expected:
    """GRE with a key (RFC 2890) carrying IPv4, and GRE carrying Ethernet (0x6558)."""
    name = "gre"
    b = Builder()
    for m in options(cid(name, 1), A4, B4):
        gre = GRE(key_present=1, key=0x1234, proto=0x0800) / net.sip_udp(m)
        b.add(net.ether(IP(src=OUTER_A, dst=OUTER_B, id=7, ttl=64) / gre), [m])
    for m in options(cid(name, 2), A4, B4):
        gre = GRE(proto=0x6558) / Ether(src=net.MAC_A, dst=net.MAC_B) / net.sip_udp(m)
        b.add(net.ether(IP(src=OUTER_A, dst=OUTER_B, id=8, ttl=64) / gre), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_erspan2(path: Path) -> Expected:
    """ERSPAN type II: GRE (with a sequence number, which is what tells type II from type I)
    protocol 0x88be, the 8-byte ERSPAN header, the mirrored Ethernet frame (with a VLAN tag)."""
    name = "erspan2"
    b = Builder()
    for i, m in enumerate(options(cid(name, 1), A4, B4) + options(cid(name, 2), A6, B6)):
        inner = Ether(src=net.MAC_A, dst=net.MAC_B) / net.sip_udp(m)
        gre = (
            GRE(seqnum_present=1, sequence_number=i + 1, proto=0x88BE)
            / ERSPAN_II(session_id=5, index=1)
            / inner
        )
        b.add(net.ether(IP(src=OUTER_A, dst=OUTER_B, id=9 + i, ttl=64) / gre), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_erspan3(path: Path) -> Expected:
    """ERSPAN type III: GRE protocol 0x22eb, the 12-byte ERSPAN III header (no platform
    sub-header), the mirrored Ethernet frame."""
    name = "erspan3"
    b = Builder()
    for i, m in enumerate(options(cid(name, 1), A4, B4) + options(cid(name, 2), A6, B6)):
        inner = Ether(src=net.MAC_A, dst=net.MAC_B) / net.sip_udp(m)
        hdr = ERSPAN_III(session_id=6, timestamp=1000 + i, o=0)
        gre = GRE(seqnum_present=1, sequence_number=i + 1, proto=0x22EB) / hdr / inner
        b.add(net.ether(IP(src=OUTER_A, dst=OUTER_B, id=20 + i, ttl=64) / gre), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_vxlan(path: Path) -> Expected:
    """VXLAN (RFC 7348): UDP port 4789, VNI 42, the inner Ethernet frame."""
    name = "vxlan"
    b = Builder()
    for i, m in enumerate(options(cid(name, 1), A4, B4) + options(cid(name, 2), A6, B6)):
        inner = Ether(src=net.MAC_A, dst=net.MAC_B) / net.sip_udp(m)
        outer = IP(src=OUTER_A, dst=OUTER_B, id=30 + i, ttl=64) / UDP(sport=49152 + i, dport=4789)
        b.add(net.ether(outer / VXLAN(vni=42, flags=0x08) / inner), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


# ---------------------------------------------------------------- IP fragments and headers


def write_ipv4_fragments(path: Path) -> Expected:
    """A 3 KB INVITE over UDP in three IPv4 fragments delivered out of order (2nd, 3rd, then
    1st, with another datagram between them), then its 200 whole."""
    name = "ipv4_frag"
    b = Builder()
    inv = request("INVITE", cid(name), 1, A4, B4, body=sdp(A4[0], 40000, pad=2600))
    pkt = (
        IP(src=A4[0], dst=B4[0], id=0x4242, ttl=64) / UDP(sport=A4[1], dport=B4[1]) / Raw(inv.data)
    )
    frags = fragment(pkt, fragsize=1200)
    assert len(frags) == 3
    other = options(cid(name, 2), A4, B4)
    b.add(net.ether(frags[1]))
    b.add(net.ether(net.sip_udp(other[0], ip_id=5)), [other[0]])
    b.add(net.ether(frags[2]))
    b.add(net.ether(frags[0]), [inv])
    b.add(net.ether(net.sip_udp(other[1], ip_id=6)), [other[1]])
    ok = response(inv, 200)
    b.add(net.ether(net.sip_udp(ok, ip_id=7)), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_ipv6_fragments(path: Path) -> Expected:
    """A 3 KB INVITE over UDP/IPv6 in three fragments (each with a Hop-by-Hop header before
    the Fragment header), delivered last, first, middle; then its 200 whole."""
    name = "ipv6_frag"
    b = Builder()
    inv = request("INVITE", cid(name), 1, A6, B6, body=sdp(A6[0], 40000, pad=2600))
    pkt = (
        IPv6(src=A6[0], dst=B6[0], hlim=64)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrFragment(id=0x6666)
        / UDP(sport=A6[1], dport=B6[1])
        / Raw(inv.data)
    )
    frags = fragment6(pkt, 1280)
    assert len(frags) == 3, len(frags)
    b.add(net.ether(frags[2]))
    b.add(net.ether(frags[0]))
    b.add(net.ether(frags[1]), [inv])
    ok = response(inv, 200)
    b.add(net.ether(net.sip_udp(ok)), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_ipv6_ext(path: Path) -> Expected:
    """IPv6 with extension headers before UDP: Hop-by-Hop, Destination Options and Routing
    (segments left 0, so the destination is the header's); then Destination Options alone."""
    name = "ipv6_ext"
    b = Builder()
    req, ok = options(cid(name), A6, B6)
    ext = IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(addresses=[], segleft=0)
    b.add(
        net.ether(
            IPv6(src=A6[0], dst=B6[0], hlim=64)
            / ext
            / UDP(sport=A6[1], dport=B6[1])
            / Raw(req.data)
        ),
        [req],
    )
    b.add(
        net.ether(
            IPv6(src=B6[0], dst=A6[0], hlim=64)
            / IPv6ExtHdrDestOpt()
            / UDP(sport=B6[1], dport=A6[1])
            / Raw(ok.data)
        ),
        [ok],
    )
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


# ---------------------------------------------------------------- TCP


def _tcp_pair(a: Addr, b: Addr) -> tuple[net.TcpFlow, net.TcpFlow]:
    return net.TcpFlow(a, b, isn=1_000_000), net.TcpFlow(b, a, isn=7_000_000)


def write_tcp_multi(path: Path) -> Expected:
    """SIP over TCP on 5060: a handshake, three requests in one segment, a CRLF CRLF
    keep-alive, three responses in one segment."""
    name = "tcp_multi"
    b = Builder()
    a, s = ("192.0.2.10", 40001), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    reqs = [request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2, 3)]
    b.add(net.ether(c.seg(b"".join(r.data for r in reqs))), reqs)
    b.add(net.ether(c.seg(b"\r\n\r\n")))
    oks = [response(r, 200) for r in reqs]
    b.add(net.ether(srv.seg(b"".join(r.data for r in oks))), oks)
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_split(path: Path) -> Expected:
    """One INVITE over five segments (one cut between the CRLFs that end its headers) on a
    port that is not 5060, so SIP is found by content; its 200 over two segments."""
    name = "tcp_split"
    b = Builder()
    a, s = ("192.0.2.10", 40002), ("198.51.100.20", 15060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    inv = request("INVITE", cid(name), 1, a, s, transport="tcp", body=sdp(a[0], 40000))
    d = inv.data
    head_end = d.index(b"\r\n\r\n") + 2
    cuts = [0, 60, 200, head_end, head_end + 40, len(d)]
    for i in range(5):
        last = i == 4
        b.add(net.ether(c.seg(d[cuts[i] : cuts[i + 1]])), [inv] if last else [])
    ok = response(inv, 200, body=sdp(s[0], 50000))
    half = len(ok.data) // 2
    b.add(net.ether(srv.seg(ok.data[:half])))
    b.add(net.ether(srv.seg(ok.data[half:])), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_out_of_order(path: Path) -> Expected:
    """Segments captured out of order: message 1; then the second half of message 2 and all
    of message 3 before the first half of message 2, whose arrival completes both."""
    name = "tcp_ooo"
    b = Builder()
    a, s = ("192.0.2.10", 40003), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    m1, m2, m3 = (request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2, 3))
    s1 = c.seg(m1.data)
    half = len(m2.data) // 2
    s2a, s2b = c.seg(m2.data[:half]), c.seg(m2.data[half:])
    s3 = c.seg(m3.data)
    b.add(net.ether(s1), [m1])
    b.add(net.ether(s2b))
    b.add(net.ether(s3))
    b.add(net.ether(s2a), [m2, m3])
    ok = response(m1, 200)
    b.add(net.ether(srv.seg(ok.data)), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_retransmission(path: Path) -> Expected:
    """A segment holding a whole request sent twice: one message, the first frame's."""
    name = "tcp_retrans"
    b = Builder()
    a, s = ("192.0.2.10", 40004), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    m1, m2 = (request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2))
    seg = c.seg(m1.data)
    b.add(net.ether(seg), [m1])
    b.add(net.ether(seg))  # the retransmission, byte for byte
    b.add(net.ether(c.seg(m2.data)), [m2])
    ok = response(m1, 200)
    b.add(net.ether(srv.seg(ok.data)), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_overlap(path: Path) -> Expected:
    """Overlapping segments: the first carries message 1 and the start of message 2; the
    second starts 30 bytes back (inside message 1) and carries the rest of message 2 and
    all of message 3."""
    name = "tcp_overlap"
    b = Builder()
    a, s = ("192.0.2.10", 40005), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    m1, m2, m3 = (request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2, 3))
    stream = m1.data + m2.data + m3.data
    first_end = len(m1.data) + 50
    b.add(net.ether(c.seg(stream[:first_end], rel=1)), [m1])
    back = len(m1.data) - 30
    b.add(net.ether(c.seg(stream[back:], rel=1 + back)), [m2, m3])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_midstream(path: Path) -> Expected:
    """A capture that starts mid-stream (no handshake): the first segment holds the end of a
    message (its last headers and body), the next ones whole messages."""
    name = "tcp_midstream"
    b = Builder()
    a, s = ("192.0.2.10", 40006), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    c.next = srv.next = 50_001  # well into the stream
    lost = request("INVITE", cid(name, 0), 1, a, s, transport="tcp", body=sdp(a[0], 40000))
    tail = lost.data[lost.data.index(b"Contact:") :]
    b.add(net.ether(c.seg(tail)))
    m1, m2 = (request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2))
    b.add(net.ether(c.seg(m1.data)), [m1])
    ok = response(m1, 200)
    b.add(net.ether(srv.seg(ok.data)), [ok])
    b.add(net.ether(c.seg(m2.data)), [m2])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tcp_gap(path: Path) -> Expected:
    """A segment never captured: message 2's middle segment is missing, so message 2 is
    lost; messages 3 and 4 after it are found again (resynchronised at the start line). Their
    frame is the segment that carried their last byte."""
    name = "tcp_gap"
    b = Builder()
    a, s = ("192.0.2.10", 40007), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    m1, m2, m3, m4 = (
        request("OPTIONS", cid(name, n), n, a, s, transport="tcp") for n in (1, 2, 3, 4)
    )
    b.add(net.ether(c.seg(m1.data)), [m1])
    third = len(m2.data) // 3
    b.add(net.ether(c.seg(m2.data[:third])))
    c.seg(m2.data[third : 2 * third])  # lost
    b.add(net.ether(c.seg(m2.data[2 * third :])))
    b.add(net.ether(c.seg(m3.data)), [m3], tshark=False)
    b.add(net.ether(c.seg(m4.data)), [m4], tshark=False)
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(
        name,
        path,
        tshark_note="tshark keeps waiting for the missing bytes: what follows the gap in the "
        "stream is never handed to its SIP dissector",
    )


# ---------------------------------------------------------------- SCTP and WebSocket


def write_sctp(path: Path) -> Expected:
    """SIP over SCTP (RFC 4168), DATA chunks with PPID 0: one message per packet, two chunks
    bundled in a packet, a SACK-only packet, and a message fragmented over three DATA chunks
    (B, middle, E) in three packets."""
    name = "sctp"
    b = Builder()
    a, s = ("192.0.2.10", 5060), ("198.51.100.20", 5060)
    r1, ok1 = options(cid(name, 1), a, s, transport="sctp")
    b.add(net.ether(net.sctp_data(a, s, [(1, 0, r1.data, True, True)])), [r1])
    b.add(net.ether(net.sctp_data(s, a, [(101, 0, ok1.data, True, True)], vtag=0xBEEF)), [ok1])
    r2 = request("MESSAGE", cid(name, 2), 1, a, s, transport="sctp")
    r3 = request("OPTIONS", cid(name, 3), 1, a, s, transport="sctp")
    b.add(
        net.ether(net.sctp_data(a, s, [(2, 1, r2.data, True, True), (3, 2, r3.data, True, True)])),
        [r2, r3],
    )
    sack = (
        net.ip_header(s[0], a[0])
        / SCTP(sport=s[1], dport=a[1], tag=0xBEEF)
        / SCTPChunkSACK(cumul_tsn_ack=3)
    )
    b.add(net.ether(sack))
    inv = request("INVITE", cid(name, 4), 1, a, s, transport="sctp", body=sdp(a[0], 40000, pad=300))
    d = inv.data
    k = len(d) // 3
    parts = [d[:k], d[k : 2 * k], d[2 * k :]]
    for i, part in enumerate(parts):
        chunk = (4 + i, 3, part, i == 0, i == 2)
        b.add(net.ether(net.sctp_data(a, s, [chunk])), [inv] if i == 2 else [])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def write_websocket(path: Path) -> Expected:
    """SIP over WebSocket (RFC 7118) on port 8080: the HTTP upgrade (Sec-WebSocket-Protocol:
    sip), a masked client text frame, two server frames in one TCP segment, a client message
    split over three frames (text, continuation, continuation) with a masked ping between
    them, and a server frame split over two TCP segments."""
    name = "websocket"
    b = Builder()
    a, s = ("192.0.2.10", 40010), ("198.51.100.20", 8080)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    key = base64.b64encode(bytes(range(16)))
    accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
    upgrade = (
        b"GET /sip HTTP/1.1\r\nHost: 198.51.100.20:8080\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    switched = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    )
    b.add(net.ether(c.seg(upgrade)))
    b.add(net.ether(srv.seg(switched)))
    masks = iter(bytes([0x11 * n, 0x22, 0x33 + n, 0x44]) for n in range(1, 100))
    r1 = request("REGISTER", cid(name, 1), 1, a, s, transport="ws")
    b.add(net.ether(c.seg(net.ws_frame(r1.data, mask=next(masks)))), [r1])
    ok1 = response(r1, 200)
    r2 = request("OPTIONS", cid(name, 2), 1, a, s, transport="ws")
    b.add(net.ether(c.seg(net.ws_frame(r2.data, mask=next(masks)))), [r2])
    ok2 = response(r2, 200)
    b.add(net.ether(srv.seg(net.ws_frame(ok1.data) + net.ws_frame(ok2.data))), [ok1, ok2])
    inv = request("INVITE", cid(name, 3), 1, a, s, transport="ws", body=sdp(a[0], 40000))
    d = inv.data
    k = len(d) // 3
    b.add(net.ether(c.seg(net.ws_frame(d[:k], opcode=1, fin=False, mask=next(masks)))))
    b.add(net.ether(c.seg(net.ws_frame(d[k : 2 * k], opcode=0, fin=False, mask=next(masks)))))
    b.add(net.ether(c.seg(net.ws_frame(b"ping", opcode=9, mask=next(masks)))))
    b.add(net.ether(c.seg(net.ws_frame(d[2 * k :], opcode=0, fin=True, mask=next(masks)))), [inv])
    ok3 = response(inv, 200, body=sdp(s[0], 50000))
    frame = net.ws_frame(ok3.data)
    b.add(net.ether(srv.seg(net.ws_frame(b"ping", opcode=10) + frame[:100])))
    b.add(net.ether(srv.seg(frame[100:])), [ok3])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


# ---------------------------------------------------------------- HEP


HEP_SHIFT_NS = -3_000_000  # HEP's time: 3 ms before the frame that carried it


def write_hep_udp(path: Path) -> Expected:
    """HEPv3 over UDP to port 9060: SIP with its own addresses (IPv4, then IPv6) and time,
    and a HEP packet of another type (5, RTCP as JSON) that is not a SIP row."""
    name = "hep_udp"
    b = Builder()
    agent, collector = ("10.9.0.1", 39000), ("10.9.0.2", 9060)
    for i, m in enumerate(options(cid(name, 1), A4, B4) + options(cid(name, 2), A6, B6)):
        t = b.t0 + i * b.step + HEP_SHIFT_NS
        b.add(net.ether(net.udp(agent, collector, net.hep3(m, t), ip_id=i + 1)), [m], sip_time_ns=t)
    report = b'{"type":200,"ssrc":305419896,"report_count":0,"report_blocks":[]}'
    rtcp = net.hep3(options(cid(name, 9), A4, B4)[0], b.t0, proto_type=5, payload=report)
    b.add(net.ether(net.udp(agent, collector, rtcp, ip_id=9)))
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path, stats_min={"hep_packets": 5}, tshark_outer=True)


def write_hep_tcp(path: Path) -> Expected:
    """HEPv3 over TCP to port 9060: two HEP packets in one segment, then one split over two
    segments."""
    name = "hep_tcp"
    b = Builder()
    agent, collector = ("10.9.0.1", 39001), ("10.9.0.2", 9060)
    c, srv = _tcp_pair(agent, collector)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    m1, m2 = options(cid(name, 1), A4, B4)
    m3 = request("INVITE", cid(name, 2), 1, A6, B6, body=sdp(A6[0], 40000))
    t = b.t0 + len(b.records) * b.step + HEP_SHIFT_NS
    b.add(
        net.ether(c.seg(net.hep3(m1, t) + net.hep3(m2, t + 1000))),
        [m1, m2],
        sip_time_ns=[t, t + 1000],
    )
    h3 = net.hep3(m3, t + 2000)
    b.add(net.ether(c.seg(h3[:50])))
    b.add(net.ether(c.seg(h3[50:])), [m3], sip_time_ns=t + 2000)
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path, stats_min={"hep_packets": 3}, tshark_outer=True)


# ---------------------------------------------------------------- not SIP, bad SIP, bad files


def write_http_5060(path: Path) -> Expected:
    """HTTP on TCP port 5060 (a GET and its answer): not SIP. One real SIP exchange over UDP
    besides it."""
    name = "http_5060"
    b = Builder()
    a, s = ("192.0.2.10", 40020), ("198.51.100.20", 5060)
    c, srv = _tcp_pair(a, s)
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    b.add(
        net.ether(
            c.seg(
                b"GET /status HTTP/1.1\r\nHost: 198.51.100.20:5060\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n"
            )
        )
    )
    body = b"<html><body>SIP server status: up</body></html>\r\n"
    b.add(
        net.ether(
            srv.seg(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
        )
    )
    for m in options(cid(name), A4, B4):
        b.add(net.ether(net.sip_udp(m)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path, stats_min={"stream_not_sip_flows": 1})


def write_udp_not_sip(path: Path) -> Expected:
    """UDP on port 5060 that is not SIP: binary bytes, a line of text, a STUN binding request;
    a CRLF CRLF keep-alive (not a message either); then one real exchange."""
    name = "udp_not_sip"
    b = Builder()
    junk = [
        bytes(range(0, 256, 3)),
        b"hello there\r\n",
        bytes.fromhex("000100002112a442") + bytes(12),
        b"\r\n\r\n",
    ]
    for i, payload in enumerate(junk):
        b.add(net.ether(net.udp(A4, B4, payload, ip_id=i + 1)))
    for m in options(cid(name), A4, B4):
        b.add(net.ether(net.sip_udp(m)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path, stats_min={"not_sip": 3})


def write_registered_ports(path: Path) -> Expected:
    """SIP on ports that other protocols have registered, as an OS may pick them for either
    end: UDP 37008 (TZSP) to 44818 (EtherNet/IP), TCP 57000 (IRC) to 44818. SIP is found by
    content, whatever the port."""
    name = "registered_ports"
    b = Builder()
    ua, uas = ("192.0.2.10", 37008), ("198.51.100.20", 44818)
    for m in options(cid(name, 1), ua, uas):
        b.add(net.ether(net.sip_udp(m)), [m])
    c, srv = _tcp_pair(("192.0.2.10", 57000), ("198.51.100.20", 44818))
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    req, ok = options(cid(name, 2), c.src, srv.src, transport="tcp")
    b.add(net.ether(c.seg(req.data)), [req])
    b.add(net.ether(srv.seg(ok.data)), [ok])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path)


def write_tls(path: Path) -> Expected:
    """SIP over TLS on 5061 (a ClientHello, then application data records both ways), which
    no capture reader can open without the keys: counted as a TLS flow, no rows. Then an
    OPTIONS in the clear on 5060."""
    name = "tls"
    b = Builder()
    c, srv = _tcp_pair(("192.0.2.10", 40061), ("198.51.100.20", 5061))
    for p in net.handshake(c, srv):
        b.add(net.ether(p))
    hello = bytes([0x16, 3, 1, 0, 64, 1, 0, 0, 60, 3, 3]) + bytes(range(59))
    b.add(net.ether(c.seg(hello)))
    for n in range(3):
        record = bytes([0x17, 3, 3, 0, 48]) + hashlib.sha256(bytes([n])).digest() + bytes(16)
        b.add(net.ether((srv if n % 2 else c).seg(record)))
    for m in options(cid(name), A4, B4):
        b.add(net.ether(net.sip_udp(m)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(name, path, stats_min={"stream_tls_flows": 2})


def write_bad_cseq(path: Path) -> Expected:
    """A request whose CSeq is not a number: still a row, with ``parse_error`` and no cseq;
    a good exchange before it."""
    name = "bad_cseq"
    b = Builder()
    for m in options(cid(name, 1), A4, B4):
        b.add(net.ether(net.sip_udp(m)), [m])
    bad = request("INVITE", cid(name, 2), 1, A4, B4, cseq_line="abc INVITE")
    # tshark reads the number as 0 and the whole value as the method.
    seen = (3, bad.call_id, 0, "abc INVITE", "INVITE", None)
    b.add(net.ether(net.sip_udp(bad)), [bad], tshark_as=seen)
    write_pcap(path, b.records, LINKTYPE_ETHERNET)
    return b.expected(
        name,
        path,
        stats_min={"sip_parse_errors": 1},
        tshark_note="tshark reads a CSeq that is not a number as 0 with the whole value as method",
    )


def write_truncated_pcap(path: Path) -> Expected:
    """A classic pcap cut in the middle of its last record's data: the whole records before
    it are read."""
    name = "truncated_pcap"
    b = Builder()
    msgs = options(cid(name, 1), A4, B4) + options(cid(name, 2), A4, B4)
    for m in msgs[:3]:
        b.add(net.ether(net.sip_udp(m)), [m])
    exp = b.expected(name, path)
    last = net.ether(net.sip_udp(msgs[3]))
    b.add(last)
    write_pcap(path, b.records, LINKTYPE_ETHERNET, cut_last=len(last) // 2)
    exp.stats_min = {"truncated_file": 1}
    return exp


def write_damaged_pcap(path: Path) -> Expected:
    """A classic pcap with 40 bytes of damage between its second and third records (read as
    a record header, a length no record can have). The records after it are read too,
    numbered after one frame for the damage. tshark reports the file damaged and lists none
    of its messages."""
    name = "damaged_pcap"
    b = Builder()
    msgs = options(cid(name, 1), A4, B4) + options(cid(name, 2), A4, B4)
    for m in msgs:
        b.add(net.ether(net.sip_udp(m)), [m], tshark=False)
    data = write_pcap(path, b.records, LINKTYPE_ETHERNET)
    at = 24 + sum(16 + len(r.data) for r in b.records[:2])
    path.write_bytes(data[:at] + b"\xff" * 40 + data[at:])
    exp = b.expected(
        name,
        path,
        stats_min={"bad_record_length": 1, "resyncs": 1, "resync_skipped_bytes": 40},
        tshark_note="tshark reports the file damaged and lists none of its messages",
    )
    exp.rows = [replace(r, frame=r.frame + 1) if r.frame > 2 else r for r in exp.rows]
    return exp


def write_truncated_pcapng(path: Path) -> Expected:
    """A pcapng cut in the middle of its last Enhanced Packet Block."""
    name = "truncated_pcapng"
    b = Builder()
    msgs = options(cid(name, 1), A4, B4) + options(cid(name, 2), A4, B4)
    for m in msgs:
        b.add(net.ether(net.sip_udp(m)), [m])
    sec = Section([Interface(LINKTYPE_ETHERNET)], records=b.records)
    exp = b.expected(name, path)
    exp.rows = exp.rows[:3]
    exp.records = 3
    exp.stats_min = {"truncated_file": 1}
    write_pcapng(path, [sec], cut=200)
    return exp


def write_snaplen(path: Path) -> Expected:
    """A file with a snap length of 400 bytes: an INVITE whose record holds only its first 400
    bytes (orig_len > caplen, cut in its body), then one cut inside its header section (in
    the Contact line). Each is still a row: the header lines captured whole give its fields,
    ``parse_error`` is ``capture_truncated`` and ``size`` the bytes captured (counted in
    ``truncated_records``, ``ip_snaplen_cut``, ``sip_truncated``); the messages after them
    are read as usual. tshark (SIP found by content first) reads the header lines before the
    cut too, so its rows are the same."""
    name = "snaplen"
    b = Builder()
    cut = 400
    inv = request("INVITE", cid(name, 1), 1, A4, B4, body=sdp(A4[0], 40000))
    frame = net.ether(net.sip_udp(inv))
    assert 14 + 28 + inv.data.index(b"\r\n\r\n") + 4 < cut < len(frame)
    seen = replace(inv, data=inv.data[: cut - 42], parse_error=True)
    b.add(frame[:cut], [seen], orig_len=len(frame))
    inv2 = request("INVITE", cid(name, 2), 1, A4, B4, body=sdp(A4[0], 40002))
    frame2 = net.ether(net.sip_udp(inv2))
    at = 42 + inv2.data.index(b"Contact:") + 12
    seen2 = replace(inv2, data=inv2.data[: at - 42], parse_error=True)
    b.add(frame2[:at], [seen2], orig_len=len(frame2))
    for m in options(cid(name, 3), A4, B4):
        b.add(net.ether(net.sip_udp(m)), [m])
    write_pcap(path, b.records, LINKTYPE_ETHERNET, snaplen=cut)
    return b.expected(
        name,
        path,
        stats_min={"truncated_records": 2, "ip_snaplen_cut": 2, "sip_truncated": 2},
        tshark_note="tshark reads a cut INVITE's header lines up to the cut",
    )


# ---------------------------------------------------------------- compressed


def write_gzip(path: Path) -> Expected:
    """The pcapng capture, gzip-compressed (path should end in .gz)."""
    plain = path.with_name(path.name + ".plain")
    exp = write_pcapng_sections(plain)
    gzip_copy(plain, path)
    exp.name, exp.path = "gzip", path
    return exp


def write_zstd(path: Path) -> Expected:
    """The nanosecond big-endian pcap call, zstd-compressed (path should end in .zst)."""
    plain = path.with_name(path.name + ".plain")
    exp = write_pcap_ns_be(plain)
    zstd_copy(plain, path)
    exp.name, exp.path = "zstd", path
    return exp
