"""PAdES signatures on the document: one incremental update per decision, and the final seal.

Each call appends exactly one revision holding the updated ``chain.json`` and a PAdES
signature (``ETSI.CAdES.detached``) by the signer's certificate in a visible field, whose stamp
prints name, role and time in an embedded CJK font and, for the college head and registrar,
the red seal behind the text like a real chop. Earlier bytes are never touched. The final step
(:func:`seal_document`) also time-stamps the signature, embeds validation data (DSS) and adds a
document time stamp: PAdES B-LTA, verifiable offline.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fontTools.ttLib import TTFont, TTLibError
from PIL import Image
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .attachment import attach_chain
from .errors import PdfSignError
from .keystore import SignerIdentity
from .tsa import to_asn1_cert, to_asn1_key

DEFAULT_STAMP_FONT = "templates/fonts/DocSerif-Regular.otf"
"""The OTF subset the main app builds; pyHanko's font engine cannot read TTC collections."""


@dataclass(frozen=True)
class SignatureBox:
    """Where a signature field goes: page (0-based) and rectangle in PDF points."""

    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def of(cls, box: Any) -> SignatureBox:
        """Accept any object with these attributes (e.g. the renderer's own box type)."""
        if isinstance(box, SignatureBox):
            return box
        if isinstance(box, dict):
            return cls(int(box["page_index"]), *(float(box[k]) for k in ("x1", "y1", "x2", "y2")))
        return cls(int(box.page_index), float(box.x1), float(box.y1), float(box.x2),
                   float(box.y2))


class _KeySigner(signers.SimpleSigner):
    """``SimpleSigner`` that keeps the parsed key instead of re-loading DER on every
    signature (RSA key loading runs a consistency check that costs milliseconds)."""

    def __init__(self, identity_cert: x509.Certificate, key: Any,
                 chain: Sequence[x509.Certificate]) -> None:
        super().__init__(
            signing_cert=to_asn1_cert(identity_cert),
            signing_key=to_asn1_key(key),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1_cert(c) for c in chain]),
        )
        self._key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey) and digest_algorithm.lower() == "sha256" \
                and self.get_signature_mechanism_for_digest(digest_algorithm) \
                .signature_algo == "rsassa_pkcs1v15":
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return super().sign_raw(data, digest_algorithm)


_signer_cache: dict[str, _KeySigner] = {}


def _pdf_signer_for(cert: x509.Certificate, key: Any,
                    chain: Sequence[x509.Certificate]) -> _KeySigner:
    fp = cert.fingerprint(hashes.SHA256()).hex()
    if fp not in _signer_cache:
        _signer_cache[fp] = _KeySigner(cert, key, chain)
    return _signer_cache[fp]


def trust_context(roots: Sequence[x509.Certificate]) -> ValidationContext:
    """Validation context rooted in the institution CA, offline (no fetching)."""
    asn1_roots: list[asn1_x509.Certificate] = [to_asn1_cert(r) for r in roots]
    return ValidationContext(trust_roots=asn1_roots, allow_fetching=False,
                             revocation_mode="soft-fail")


class _StampFontFactory(GlyphAccumulatorFactory):
    """pyHanko's factory opens the font file and never closes it; read it once, serve bytes."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(writer=writer, font_handle=io.BytesIO(_font_bytes(self.font_file)),
                                font_size=self.font_size, obj_stream=obj_stream)


@functools.lru_cache(maxsize=8)
def _font_bytes(font_path: str) -> bytes:
    try:
        with open(font_path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise PdfSignError(f"cannot read stamp font {font_path}") from e


@functools.lru_cache(maxsize=8)
def _font_chars(font_path: str) -> frozenset[int]:
    try:
        with TTFont(io.BytesIO(_font_bytes(font_path)), lazy=True) as tt:
            return frozenset(tt.getBestCmap() or {})
    except (OSError, TTLibError) as e:
        raise PdfSignError(f"cannot read stamp font {font_path}") from e


def printable(text: str, font_path: str) -> str:
    """``text`` with characters the font lacks replaced by 〓 (pyHanko fails on .notdef)."""
    chars = _font_chars(font_path)
    fallback = "〓" if ord("〓") in chars else "?"
    return "".join(ch if ord(ch) in chars or ch == "\n" else fallback for ch in text)


def stamp_style(font_path: str, lines: Sequence[str], seal_png: bytes | None,
                font_size: int = 9) -> TextStampStyle:
    """Stamp: the text lines in the embedded font; the seal (if any) behind it, opaque red."""
    background = None
    if seal_png is not None:
        img = Image.open(io.BytesIO(seal_png))
        img.thumbnail((300, 300))  # ~4 cm at 190 dpi: sharp in print, small in the file
        background = PdfImage(img)
    text = printable("\n".join(line.replace("%", "%%") for line in lines), font_path)
    return TextStampStyle(
        stamp_text=text,
        text_box_style=TextBoxStyle(font=_StampFontFactory(font_path,
                                                                 font_size=font_size)),
        border_width=0,
        background=background,
        background_opacity=0.85,
    )


def _sign(
    pdf_bytes: bytes,
    signer: SignerIdentity,
    *,
    box: SignatureBox | None,
    field_name: str,
    stamp_text_lines: Sequence[str],
    seal_png: bytes | None,
    font_path: str,
    timestamper: TimeStamper | None,
    chain_json: bytes | None,
    reason: str | None,
    lta_context: ValidationContext | None,
) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=signer.name,
        embed_validation_info=lta_context is not None,
        use_pades_lta=lta_context is not None,
        validation_context=lta_context,
    )
    field_spec = None
    style = None
    if box is not None:
        b = SignatureBox.of(box)
        field_spec = fields.SigFieldSpec(field_name, on_page=b.page_index,
                                         box=(int(b.x1), int(b.y1), int(b.x2), int(b.y2)))
        style = stamp_style(font_path, stamp_text_lines, seal_png)
    pdf_signer = signers.PdfSigner(
        meta,
        signer=_pdf_signer_for(signer.cert, signer.key, signer.chain),
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=field_spec,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
        if chain_json is not None:
            attach_chain(writer, chain_json)
        out = pdf_signer.sign_pdf(writer, output=io.BytesIO())
    except (PdfError, PyHankoSigningError, LayoutError, OSError, ValueError, KeyError) as e:
        raise PdfSignError(f"cannot sign field {field_name}: {e}") from e
    data: bytes = out.getvalue()
    if not data.startswith(pdf_bytes):  # the whole point of incremental updates
        raise PdfSignError("signing rewrote earlier revisions")
    return data


def sign_step(
    pdf_bytes: bytes,
    signer: SignerIdentity,
    box: SignatureBox | None,
    field_name: str,
    stamp_text_lines: Sequence[str],
    seal_png: bytes | None,
    font_path: str,
    timestamper: TimeStamper | None = None,
    *,
    chain_json: bytes | None = None,
    reason: str | None = None,
) -> bytes:
    """Append one revision: ``chain.json`` (if given) and the signer's PAdES signature.

    ``box`` None makes an invisible signature. With a ``timestamper`` the signature gets a
    signature time stamp (PAdES B-T).
    """
    return _sign(pdf_bytes, signer, box=box, field_name=field_name,
                 stamp_text_lines=stamp_text_lines, seal_png=seal_png, font_path=font_path,
                 timestamper=timestamper, chain_json=chain_json, reason=reason,
                 lta_context=None)


def seal_document(
    pdf_bytes: bytes,
    signer: SignerIdentity,
    box: SignatureBox | None,
    field_name: str,
    stamp_text_lines: Sequence[str],
    seal_png: bytes | None,
    font_path: str,
    timestamper: TimeStamper,
    trust_roots: Sequence[x509.Certificate],
    *,
    chain_json: bytes | None = None,
    reason: str | None = None,
) -> bytes:
    """The last step: signature with a TSA time stamp, validation data in the DSS, then a
    document time stamp (PAdES B-LTA). Adds three revisions (signature, DSS, time stamp)."""
    if timestamper is None:
        raise PdfSignError("sealing needs a time-stamping authority")
    return _sign(pdf_bytes, signer, box=box, field_name=field_name,
                 stamp_text_lines=stamp_text_lines, seal_png=seal_png, font_path=font_path,
                 timestamper=timestamper, chain_json=chain_json, reason=reason,
                 lta_context=trust_context(trust_roots))
