"""Small hostile PDFs written byte by byte, and a corrupted seal time stamp.

Each is a well-formed file on the outside (header, xref table, trailer) with one trap
inside that makes a naive reader recurse without end or trip over a damaged token.
"""

from __future__ import annotations

import io

from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

DEPTH = 100_000
SHA256_OID = bytes.fromhex("0609608648016503040201")


def raw_pdf(objects: list[bytes]) -> bytes:
    """A one-revision PDF whose object 1 is the catalog."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"

HOSTILE_PDFS = {
    # /Names is object 3, which is "4 0 R", which is "3 0 R"
    "reference_loop": raw_pdf([b"<< /Type /Catalog /Pages 2 0 R /Names 3 0 R >>", PAGES,
                               b"4 0 R", b"3 0 R"]),
    "nested_arrays": raw_pdf([b"<< /Type /Catalog /Pages 2 0 R /X " + b"[" * DEPTH
                              + b"]" * DEPTH + b" >>", PAGES]),
    "nested_names": raw_pdf([b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles "
                             + b"<< /Kids [" * DEPTH + b"]>>" * DEPTH + b" >> >>", PAGES]),
}


def corrupt_seal_timestamp(pdf: bytes) -> bytes:
    """``pdf`` with the digest algorithm of the seal's time stamp (TSTInfo messageImprint)
    changed to an OID no library knows; the bytes around stay as they were."""
    reader = PdfFileReader(io.BytesIO(pdf))
    seal = reader.embedded_signatures[-1]
    assert seal.sig_object_type == "/DocTimeStamp"
    hex_start = seal.byte_range[1] + 1
    contents = bytes.fromhex(pdf[hex_start:seal.byte_range[2] - 1].decode())
    tst_info = cms.ContentInfo.load(contents)["content"]["encap_content_info"]["content"]
    at = contents.find(tst_info.contents) + tst_info.contents.find(SHA256_OID)
    damaged = bytearray(contents)
    damaged[at + 4] ^= 0x01  # an arc inside the OID: 2.16.840.1.101.3.4.2.1 becomes unknown
    hex_bytes = damaged.hex().encode()
    return pdf[:hex_start] + hex_bytes + pdf[hex_start + len(hex_bytes):]
