"""Test captures for sipwire.capture, made here (scapy, and hand-built bytes where scapy has no
layer), never copied from other projects.

Each ``write_xxx(path) -> Expected`` writes one small, deterministic capture and returns the
SIP messages it holds (frame, time, Call-ID, CSeq, method or status, addresses, transport),
so the tests check sipwire against these and, independently, against tshark
(tests/tshark.py). ``CAPTURES`` maps a capture's name to its writer and file name.

    python -m tests.capgen DIR     writes them all to DIR (to look at them with tshark)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .captures import (
    write_bad_cseq,
    write_damaged_pcap,
    write_erspan2,
    write_erspan3,
    write_gre,
    write_gzip,
    write_hep_tcp,
    write_hep_udp,
    write_http_5060,
    write_ipip,
    write_ipv4_fragments,
    write_ipv6_ext,
    write_ipv6_fragments,
    write_null,
    write_pcap_ns_be,
    write_pcap_ns_le,
    write_pcap_us_be,
    write_pcap_us_le,
    write_pcapng_sections,
    write_qinq,
    write_raw_ip,
    write_registered_ports,
    write_sctp,
    write_sll,
    write_sll2,
    write_snaplen,
    write_tcp_gap,
    write_tcp_midstream,
    write_tcp_multi,
    write_tcp_out_of_order,
    write_tcp_overlap,
    write_tcp_retransmission,
    write_tcp_split,
    write_tls,
    write_truncated_pcap,
    write_truncated_pcapng,
    write_udp_not_sip,
    write_vlan,
    write_vxlan,
    write_websocket,
    write_zstd,
)
from .model import Expected, Row
from .sip import Sip

Writer = Callable[[Path], Expected]

# name -> (file name, writer)
CAPTURES: dict[str, tuple[str, Writer]] = {
    "pcap_us_le": ("pcap_us_le.pcap", write_pcap_us_le),
    "pcap_us_be": ("pcap_us_be.pcap", write_pcap_us_be),
    "pcap_ns_le": ("pcap_ns_le.pcap", write_pcap_ns_le),
    "pcap_ns_be": ("pcap_ns_be.pcap", write_pcap_ns_be),
    "pcapng": ("sections.pcapng", write_pcapng_sections),
    "gzip": ("sections.pcapng.gz", write_gzip),
    "zstd": ("call.pcap.zst", write_zstd),
    "vlan": ("vlan.pcap", write_vlan),
    "qinq": ("qinq.pcap", write_qinq),
    "sll": ("sll.pcap", write_sll),
    "sll2": ("sll2.pcap", write_sll2),
    "raw_ip": ("raw_ip.pcap", write_raw_ip),
    "null": ("null.pcap", write_null),
    "ipip": ("ipip.pcap", write_ipip),
    "gre": ("gre.pcap", write_gre),
    "erspan2": ("erspan2.pcap", write_erspan2),
    "erspan3": ("erspan3.pcap", write_erspan3),
    "vxlan": ("vxlan.pcap", write_vxlan),
    "ipv4_frag": ("ipv4_frag.pcap", write_ipv4_fragments),
    "ipv6_frag": ("ipv6_frag.pcap", write_ipv6_fragments),
    "ipv6_ext": ("ipv6_ext.pcap", write_ipv6_ext),
    "tcp_multi": ("tcp_multi.pcap", write_tcp_multi),
    "tcp_split": ("tcp_split.pcap", write_tcp_split),
    "tcp_ooo": ("tcp_ooo.pcap", write_tcp_out_of_order),
    "tcp_retrans": ("tcp_retrans.pcap", write_tcp_retransmission),
    "tcp_overlap": ("tcp_overlap.pcap", write_tcp_overlap),
    "tcp_midstream": ("tcp_midstream.pcap", write_tcp_midstream),
    "tcp_gap": ("tcp_gap.pcap", write_tcp_gap),
    "sctp": ("sctp.pcap", write_sctp),
    "websocket": ("websocket.pcap", write_websocket),
    "hep_udp": ("hep_udp.pcap", write_hep_udp),
    "hep_tcp": ("hep_tcp.pcap", write_hep_tcp),
    "http_5060": ("http_5060.pcap", write_http_5060),
    "udp_not_sip": ("udp_not_sip.pcap", write_udp_not_sip),
    "registered_ports": ("registered_ports.pcap", write_registered_ports),
    "tls": ("tls.pcap", write_tls),
    "bad_cseq": ("bad_cseq.pcap", write_bad_cseq),
    "truncated_pcap": ("truncated.pcap", write_truncated_pcap),
    "truncated_pcapng": ("truncated.pcapng", write_truncated_pcapng),
    "damaged_pcap": ("damaged.pcap", write_damaged_pcap),
    "snaplen": ("snaplen.pcap", write_snaplen),
}


def write_all(directory: Path) -> dict[str, Expected]:
    """Writes every capture into ``directory``; returns what each must read as."""
    directory.mkdir(parents=True, exist_ok=True)
    return {name: writer(directory / fname) for name, (fname, writer) in CAPTURES.items()}


__all__ = ["CAPTURES", "Expected", "Row", "Sip", "Writer", "write_all"]
