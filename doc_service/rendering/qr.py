"""QR codes for verification URLs.

The payload is only the short URL (``https://host/d/<code>``): short payloads
give few modules, so a 2.4 cm code still decodes from a 150 dpi scan. Both the
PDF and the DOCX carry a 1-bit PNG, which the PDF draws with interpolation off
(``image-rendering: pixelated``), so its modules stay sharp.
"""

from __future__ import annotations

import base64
import io
import secrets

import qrcode
from qrcode.constants import ERROR_CORRECT_M

# Crockford-style alphabet: no 0/O or 1/I/L, so a code read aloud or typed survives.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code(length: int = 10) -> str:
    """A random document code (~49 bits for 10 characters): unguessable, short to print."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/d/{code}"


def _make(data: str) -> qrcode.QRCode:
    # A fixed mask pattern: choosing the "best" of eight costs ~10 ms per code (a tenth of
    # a page's render) and buys nothing a scanner notices for short URLs.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2, box_size=10, mask_pattern=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_png_data_uri(data: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(data)).decode("ascii")


def qr_png(data: str, box_size: int = 4) -> bytes:
    """A crisp 1-bit PNG (~4 px per module; printed with interpolation off)."""
    qr = _make(data)
    qr.box_size = box_size
    img = qr.make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
