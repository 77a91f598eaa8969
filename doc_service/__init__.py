"""doc-service: issue, sign and archive Chinese college student-status (学籍) documents."""

from __future__ import annotations

__version__ = "0.1.0"
