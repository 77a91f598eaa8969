"""Build the editable Word templates ``templates/forms/<form_id>/form.docx``.

The builder lives in the ``tools/docx_build`` package (fonts, document setup,
paragraphs, tables, one module per form); this script is its entry point:
``python tools/build_docx_templates.py [FORM_ID ...]``, the same as
``python -m tools.docx_build`` from the project root.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, sys.path[0] is tools/; make ``tools.docx_build`` importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tools.docx_build.cli import main

    raise SystemExit(main())
