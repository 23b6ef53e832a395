"""tshark as the oracle of the capture tests: the SIP messages Wireshark's dissectors find in a
capture, one row per message, in the frame that completed it.

The command line (one for every capture; each option is harmless where its layer is absent):

    tshark -n -r FILE -Y sip -T pdml
        -o tcp.desegment_tcp_streams:TRUE      TCP: reassemble messages split over segments
        -o tcp.reassemble_out_of_order:TRUE    TCP: ... and segments captured out of order
                                               (off by default in 4.0)
        -o tcp.no_subdissector_on_error:TRUE   TCP: a retransmission is not dissected again,
                                               so a resent message is one row (4.0's default)
        -o ip.defragment:TRUE -o ipv6.defragment:TRUE   IP fragments
        -o sctp.reassembly:TRUE                SCTP: a message over several DATA chunks
        --enable-heuristic sip_tcp / sip_udp / sip_sctp  SIP on any port, found by content
        -o udp.try_heuristic_first:TRUE        ... before a dissector registered on the port:
        -o tcp.try_heuristic_first:TRUE        a port the OS picked (37008 is TZSP's, 44818
                                               ENIP's) would otherwise hide the SIP on it
        -X lua_script:HEP_LUA                  HEPv3 on UDP and TCP port 9060 (below)

What each encapsulation needs, as found with Debian 12's tshark 4.0.17 on tests/capgen:
- pcap µs/ns either byte order, pcapng (two sections of either byte order, mixed link types,
  if_tsresol 10^-n and 2^-n), gzip and zstd files: nothing (tshark 4.0 reads zstd).
- Ethernet, 802.1Q, QinQ (0x88a8 + 0x8100), SLL, SLL2 (link type 276), raw IP, BSD loopback
  (AF_INET6 as 24, 28 and 30): nothing.
- IP-in-IP (4-in-4, 6-in-4), GRE with a key, GRE carrying Ethernet, ERSPAN II (GRE 0x88be
  with a sequence number; without one tshark reads ERSPAN type I) and III (GRE 0x22eb),
  VXLAN (UDP 4789): nothing; ERSPAN and VXLAN are dissected by their registered numbers.
- IPv4 and IPv6 fragments (out of order too), IPv6 extension headers: nothing.
- TCP: the tcp.* options above. tshark finds SIP on a port other than 5060 by heuristics
  (sip_tcp). What it cannot do: after a gap (a segment never captured) it waits for the
  missing bytes and never hands the rest of that stream to SIP; a capture that starts
  mid-stream and HTTP on port 5060 give "SIP continuation" rows with no method or status,
  which are no messages (dropped here).
- SCTP DATA (PPID 0): the sip_sctp heuristic; chunks bundled in one packet give several SIP
  messages in one frame, and a fragmented message is reassembled.
- WebSocket: the HTTP upgrade must be on a port tshark dissects as HTTP (8080 is one; else
  add ``-d tcp.port==N,http``); Sec-WebSocket-Protocol: sip sends the payloads to SIP. It
  unmasks, reassembles continuation frames and skips control frames.
- HEPv3: tshark 4.0 has no HEP dissector (Wireshark has none built in; HOMER ships a Lua
  plugin). HEP_LUA below is a minimal one written for these tests: it hands the payload chunk
  of a SIP HEP packet to the SIP dissector, over UDP and (framed by HEP's length) TCP. The
  rows are tshark's SIP dissector's; the addresses and times are the outer packet's.
- A snaplen-cut record: with the heuristics first, tshark reads the header lines captured
  whole, so Call-ID and CSeq before the cut are in its row. (Dissected by port it stops after
  the start line, "Packet size limited during capture".)
- A CSeq that is not a number: tshark reports cseq 0 and the whole value as its method.
- A truncated file: tshark reads the whole records and exits with status 2 ("appears to have
  been cut short in the middle of a packet"); that is not a failure here. Nor is a damaged
  one ("appears to be damaged or corrupt", status 2): tshark stops there and its PDML lists
  no packet at all; sipwire reads past the damage.

Several SIP messages in one frame (bundled SCTP chunks, several messages in one TCP segment,
several WebSocket frames): with ``-T fields`` tshark joins each field's values with commas,
and a frame holding a request and a response gives one sip.Method and one sip.Status-Code
that cannot be paired with their Call-IDs. So this reads PDML, where each message is its own
``<proto name="sip">`` element in order.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

# (frame, call_id, cseq, cseq_method, method, status): the row as the tests compare it.
Key = tuple[int, "str | None", "int | None", "str | None", "str | None", "int | None"]

PREFERENCES = (
    "-o", "tcp.desegment_tcp_streams:TRUE",
    "-o", "tcp.reassemble_out_of_order:TRUE",
    "-o", "tcp.no_subdissector_on_error:TRUE",
    "-o", "ip.defragment:TRUE",
    "-o", "ipv6.defragment:TRUE",
    "-o", "sctp.reassembly:TRUE",
    "-o", "udp.try_heuristic_first:TRUE",
    "-o", "tcp.try_heuristic_first:TRUE",
    "--enable-heuristic", "sip_tcp",
    "--enable-heuristic", "sip_udp",
    "--enable-heuristic", "sip_sctp",
)  # fmt: skip

HEP_PORT = 9060

# HEPv3 (HEP3 rev 12): "HEP3", a 2-byte total length, then chunks (vendor, type, length with
# the 6-byte chunk header, value). Chunk 11 is the protocol type (1 = SIP), chunk 15 the
# captured payload.
HEP_LUA = """
local hep = Proto("sipwire_hep3", "HEPv3 (sipwire tests)")
local f_type = ProtoField.uint8("sipwire_hep3.proto_type", "Protocol type")
hep.fields = { f_type }
local sip = Dissector.get("sip")

local function dissect_one(tvb, pinfo, tree)
    if tvb:len() < 6 or tvb(0, 4):string() ~= "HEP3" then return 0 end
    local total = tvb(4, 2):uint()
    local off, ptype, payload = 6, nil, nil
    while off + 6 <= total and off + 6 <= tvb:len() do
        local ctype, clen = tvb(off + 2, 2):uint(), tvb(off + 4, 2):uint()
        if clen < 6 or off + clen > total then break end
        if ctype == 11 then ptype = tvb(off + 6, 1):uint()
        elseif ctype == 15 and clen > 6 then payload = tvb(off + 6, clen - 6) end
        off = off + clen
    end
    local t = tree:add(hep, tvb(0, total))
    if ptype then t:add(f_type, tvb(0, 0), ptype) end
    if ptype == 1 and payload then sip:call(payload:tvb(), pinfo, tree) end
    return total
end

function hep.dissector(tvb, pinfo, tree)
    if pinfo.port_type == 2 then -- PT_TCP: HEP packets framed by their length
        dissect_tcp_pdus(tvb, tree, 6, function(t, p, off) return t(off + 4, 2):uint() end,
            dissect_one)
        return tvb:len()
    end
    return dissect_one(tvb, pinfo, tree)
end

DissectorTable.get("udp.port"):add(HEP_PORT, hep)
DissectorTable.get("tcp.port"):add(HEP_PORT, hep)
""".replace("HEP_PORT", str(HEP_PORT))


def tshark_binary() -> str:
    """tshark's path: a failure in CI (``CI`` set), a skip elsewhere, when it is missing."""
    path = shutil.which("tshark")
    if path is None:
        message = (
            "tshark not found: install the Debian package tshark "
            "(apt-get install -y tshark, or scripts/dev.sh setup)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the tshark comparisons", pytrace=False)
        pytest.skip(message)
    return path


@lru_cache(maxsize=1)
def _hep_lua() -> str:
    fd, name = tempfile.mkstemp(prefix="sipwire-hep-", suffix=".lua")
    with os.fdopen(fd, "w") as f:
        f.write(HEP_LUA)
    atexit.register(os.unlink, name)
    return name


@dataclass(frozen=True)
class TsharkSip:
    """One SIP message as tshark dissected it."""

    frame: int
    time_ns: int  # the frame's time
    call_id: str | None
    cseq: int | None
    cseq_method: str | None
    method: str | None
    status: int | None
    # The innermost IP addresses and ports before the message (for HEP: the outer packet's),
    # and the transport as the messages table names it ("udp", "tcp", "sctp", "ws").
    src: tuple[str, int] | None
    dst: tuple[str, int] | None
    transport: str | None
    # tshark's "Resent Packet" (sip.resend): the same message seen before between the same
    # addresses and ports.
    resend: bool = False

    def key(self) -> Key:
        return (self.frame, self.call_id, self.cseq, self.cseq_method, self.method, self.status)


def command(path: Path, extra: Sequence[str] = ()) -> list[str]:
    """The tshark command line that lists ``path``'s SIP messages as PDML."""
    return [
        tshark_binary(),
        "-n",
        "-r", str(path),
        *PREFERENCES,
        "-X", f"lua_script:{_hep_lua()}",
        *extra,
        "-Y", "sip",
        "-T", "pdml",
    ]  # fmt: skip


def sip_messages(path: Path, extra: Sequence[str] = ()) -> list[TsharkSip]:
    """The SIP messages tshark finds in ``path``, in capture order (several per frame when a
    frame completes several). Rows with neither method nor status (tshark's "continuation"
    and keep-alive rows) are dropped."""
    cmd = command(path, extra)
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    err = proc.stderr.decode(errors="replace")
    # Status 2 with "cut short" (a truncated file: the whole records were read) or "damaged
    # or corrupt" (tshark stopped there): what it printed is its answer.
    stopped = "cut short" in err or "damaged or corrupt" in err
    if proc.returncode != 0 and not (proc.returncode == 2 and stopped):
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return parse_pdml(proc.stdout)


def _ns(epoch: str) -> int:
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def parse_pdml(pdml: bytes) -> list[TsharkSip]:
    out: list[TsharkSip] = []
    for packet in ET.fromstring(pdml).iter("packet"):
        frame, time_ns = 0, 0
        ip: list[str] = []
        ports: list[int] = []
        transport: str | None = None
        for proto in packet.iter("proto"):
            name = proto.get("name")
            if name == "frame":
                for f in proto.iter("field"):
                    if f.get("name") == "frame.number":
                        frame = int(f.get("show", "0"))
                    elif f.get("name") == "frame.time_epoch":
                        time_ns = _ns(f.get("show", "0"))
            elif name in ("ip", "ipv6"):
                fields = {f.get("name"): f.get("show") for f in proto.findall("field")}
                src, dst = fields.get(f"{name}.src"), fields.get(f"{name}.dst")
                if src and dst:
                    ip = [src, dst]
            elif name in ("udp", "tcp", "sctp"):
                fields = {f.get("name"): f.get("show") for f in proto.findall("field")}
                sp, dp = fields.get(f"{name}.srcport"), fields.get(f"{name}.dstport")
                if sp and dp:
                    ports = [int(sp), int(dp)]
                    transport = name
            elif name == "websocket":
                transport = "ws"
            elif name == "sip":
                msg = _sip(proto)
                if msg["method"] is None and msg["status"] is None:
                    continue
                out.append(
                    TsharkSip(
                        frame=frame,
                        time_ns=time_ns,
                        src=(ip[0], ports[0]) if ip and ports else None,
                        dst=(ip[1], ports[1]) if ip and ports else None,
                        transport=transport,
                        **msg,  # type: ignore[arg-type]
                    )
                )
    return out


def _sip(proto: ET.Element) -> dict[str, object]:
    values: dict[str, str] = {}
    for f in proto.iter("field"):
        name = f.get("name", "")
        if name in (
            "sip.Method",
            "sip.Status-Code",
            "sip.Call-ID",
            "sip.CSeq.seq",
            "sip.CSeq.method",
            "sip.resend",
        ):
            values.setdefault(name, f.get("show", ""))
    seq = values.get("sip.CSeq.seq")
    status = values.get("sip.Status-Code")
    return {
        "call_id": values.get("sip.Call-ID"),
        "cseq": int(seq) if seq is not None else None,
        "cseq_method": values.get("sip.CSeq.method"),
        "method": values.get("sip.Method") if status is None else None,
        "status": int(status) if status is not None else None,
        "resend": values.get("sip.resend") in ("1", "True", "true"),
    }


def keys(rows: Sequence[TsharkSip]) -> Counter[Key]:
    return Counter(r.key() for r in rows)


@dataclass(frozen=True)
class TsharkRtpStream:
    """One row of ``tshark -q -z rtp,streams`` (times relative to the first frame)."""

    start: float
    end: float
    src: tuple[str, int]
    dst: tuple[str, int]
    ssrc: int
    payload: str
    packets: int
    lost: int
    min_delta_ms: float
    mean_delta_ms: float
    max_delta_ms: float
    min_jitter_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    problem: bool


# Start, end, source address and port, destination address and port, SSRC, payload (a name
# that may hold spaces), packets, "lost (percent%)", three deltas, three jitters, "X" if a
# problem was seen.
_RTP_STREAM = re.compile(
    r"^\s*([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x([0-9A-Fa-f]+)\s+(.+?)"
    r"\s+(\d+)\s+(-?\d+) \(\s*-?[\d.]+%\)"
    r"\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s*(X?)\s*$"
)


def rtp_streams(path: Path, extra: Sequence[str] = ()) -> list[TsharkRtpStream]:
    """tshark's RTP streams in ``path`` (``-q -z rtp,streams``): streams are found from the
    SDP of the SIP messages (add ``-o rtp.heuristic_rtp:TRUE`` to ``extra`` for the others)."""
    cmd = [tshark_binary(), "-n", "-r", str(path), *PREFERENCES, *extra, "-q", "-z", "rtp,streams"]
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr!r}")
    out = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        m = _RTP_STREAM.match(line)
        if m is None:
            continue
        g = m.groups()
        out.append(
            TsharkRtpStream(
                start=float(g[0]),
                end=float(g[1]),
                src=(g[2], int(g[3])),
                dst=(g[4], int(g[5])),
                ssrc=int(g[6], 16),
                payload=g[7],
                packets=int(g[8]),
                lost=int(g[9]),
                min_delta_ms=float(g[10]),
                mean_delta_ms=float(g[11]),
                max_delta_ms=float(g[12]),
                min_jitter_ms=float(g[13]),
                mean_jitter_ms=float(g[14]),
                max_jitter_ms=float(g[15]),
                problem=g[16] == "X",
            )
        )
    return out


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        print(f"== {arg}")
        for row in sip_messages(Path(arg)):
            print(f"  {row.key()}  {row.src} -> {row.dst}")
