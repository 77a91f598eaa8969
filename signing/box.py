"""Where a signature goes on the page: the one box type shared by rendering, storage and signing.

The renderer measures each role's signature area as a :class:`SignatureBox`, the document row
keeps it as JSON (:meth:`SignatureBox.to_dict`), and the PDF signer places the visible stamp
in it. Pure data, so the renderer can import it without pulling in pyHanko.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SignatureBox:
    """A page (0-based) and a rectangle on it in PDF points (origin bottom-left)."""

    page_index: int
    x1: float
    y1: float
    x2: float
    y2: float

    def to_dict(self) -> dict[str, float | int]:
        """The JSON form stored on the document (``Document.signature_areas``)."""
        return {"page_index": self.page_index, "x1": self.x1, "y1": self.y1,
                "x2": self.x2, "y2": self.y2}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignatureBox:
        """The box back from its stored JSON form."""
        return cls(int(data["page_index"]), float(data["x1"]), float(data["y1"]),
                   float(data["x2"]), float(data["y2"]))

    @classmethod
    def of(cls, box: SignatureBox | Mapping[str, Any]) -> SignatureBox:
        """A box as it is, or read from its stored JSON form."""
        return box if isinstance(box, SignatureBox) else cls.from_dict(box)
