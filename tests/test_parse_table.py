"""sipwire.parse_table: the messages columns for datagrams given as bytes, read through the
Arrow PyCapsule interface by pyarrow, polars and DuckDB."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import sipwire

INVITE = (Path(__file__).parent.parent / "examples" / "invite.sip").read_bytes()
BYE = (
    b"BYE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKb1\r\n"
    b"From: <sip:a@b>;tag=ft\r\nTo: <sip:bob@c>;tag=tt\r\nCall-ID: bye-1\r\nCSeq: 7 BYE\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def rows(datagrams: list[bytes], **kw: object) -> list[dict[str, object]]:
    return pa.table(sipwire.parse_table(datagrams, **kw)).to_pylist()  # type: ignore[arg-type]


def test_columns_and_types() -> None:
    t = pa.table(sipwire.parse_table([INVITE]))
    assert t.column_names == [
        "time", "frame", "src_ip", "src_port", "dst_ip", "dst_port", "transport", "method",
        "status", "call_id", "cseq", "cseq_method", "from_tag", "to_tag", "branch", "size",
        "parse_error", "file",
    ]  # fmt: skip
    assert t.schema.field("time").type == pa.timestamp("ns", tz="UTC")
    assert t.schema.field("status").type == pa.uint16()
    assert t.schema.field("cseq").type == pa.uint32()
    assert t.schema.field("frame").type == pa.uint64()


def test_fields_agree_with_parse() -> None:
    for data in (INVITE, BYE):
        (r,) = rows([data])
        m = sipwire.parse(data)
        assert r["call_id"] == m.call_id
        assert (r["cseq"], r["cseq_method"]) == (m.cseq.seq, m.cseq.method)
        assert r["from_tag"] == m.from_.tag and r["to_tag"] == m.to.tag
        assert r["branch"] == m.via[0].branch
        assert r["size"] == len(data)
        assert r["method"] == m.method and r["status"] is None
        assert r["time"] is None and r["src_ip"] is None and r["parse_error"] is None


def test_a_bad_message_is_still_a_row() -> None:
    bad_cseq = BYE.replace(b"CSeq: 7 BYE", b"CSeq: seven BYE")
    garbage = b"\x00\x01 not sip at all"
    out = rows([bad_cseq, garbage, BYE])
    assert [r["parse_error"] for r in out] == ["invalid_cseq", out[1]["parse_error"], None]
    assert out[1]["parse_error"] is not None
    # What could be read of the bad message is there.
    assert out[0]["call_id"] == "bye-1" and out[0]["method"] == "BYE" and out[0]["cseq"] is None
    assert out[1]["size"] == len(garbage)


def test_a_message_that_does_not_index_keeps_its_lines_fields() -> None:
    """A bad Content-Length or a broken line: the row has the error and what the other lines
    say, so the call is still found."""
    bad_length = BYE.replace(b"Content-Length: 0", b"Content-Length: -5")
    no_colon = BYE.replace(b"Content-Length: 0", b"Content-Length: 0\r\nBroken line")
    for data, kind in ((bad_length, "invalid_content_length"), (no_colon, "missing_colon")):
        (r,) = rows([data])
        assert r["parse_error"] == kind
        got = (r["method"], r["call_id"], r["cseq"], r["from_tag"], r["to_tag"], r["branch"])
        assert got == ("BYE", "bye-1", 7, "ft", "tt", "z9hG4bKb1")


def test_response_and_status() -> None:
    ok = sipwire.parse(INVITE).response(200, to_tag="x1")
    (r,) = rows([bytes(ok)])
    assert (r["method"], r["status"], r["cseq_method"], r["to_tag"]) == (None, 200, "INVITE", "x1")


def test_non_utf8_values_are_replaced_in_text_and_exact_in_raw() -> None:
    data = BYE.replace(b"Call-ID: bye-1", b"Call-ID: bye-\xff\xfe")
    (r,) = rows([data], raw=True)
    assert r["call_id"] == "bye-\ufffd\ufffd"
    assert r["raw"] == data
    # One bad value in a batch: the others (UTF-8 ones too) are kept as they were.
    utf8 = BYE.replace(b"Call-ID: bye-1", "Call-ID: bye-é".encode())
    got = [r["call_id"] for r in rows([BYE, data, utf8, BYE])]
    assert got == ["bye-1", "bye-\ufffd\ufffd", "bye-é", "bye-1"]


def test_strict_and_lenient() -> None:
    bare_lf = BYE.replace(b"\r\n", b"\n")
    assert rows([bare_lf])[0]["parse_error"] is None
    assert rows([bare_lf], strict=True)[0]["parse_error"] is not None


def test_polars_and_duckdb_read_it_without_pyarrow_in_between() -> None:
    import duckdb
    import polars

    t = sipwire.parse_table([INVITE, BYE] * 50)
    df = polars.from_arrow(pa.table(t))
    assert df.height == 100
    # DuckDB finds the local `t` by name and reads it through __arrow_c_stream__.
    got = duckdb.sql("select method, count(*) from t group by method order by method").fetchall()
    assert got == [("BYE", 50), ("INVITE", 50)]
    # A table can be exported again: the batches are shared.
    assert pa.table(t).num_rows == len(t) == 100


def test_not_bytes_is_the_callers_mistake() -> None:
    with pytest.raises(TypeError):
        sipwire.parse_table(["INVITE sip:a@b SIP/2.0"])  # type: ignore[list-item]
