"""``python -m tools.docx_build``: rebuild the form templates."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
