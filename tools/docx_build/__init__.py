"""Build the editable Word templates ``templates/forms/<form_id>/form.docx``.

The DOCX templates are generated, not hand-edited, so that every form gets the
same page setup, fonts and table rules, and so that each Jinja tag sits whole
in one run (docxtpl only sees a tag that Word has not split across runs).
Run ``python tools/build_docx_templates.py`` (or ``python -m tools.docx_build``)
after changing a layout here and commit the .docx files it writes;
``doc_service.rendering.docx`` fills them.

Modules:

- :mod:`.fonts`: the faces, the East Asian language, the font table;
- :mod:`.document`: page setup, styles, reproducible bytes;
- :mod:`.paragraphs` and :mod:`.tables`: the building blocks of a form;
- :mod:`.forms`: one module per form layout, and ``BUILDERS``;
- :mod:`.cli`: ``build`` and the command line.

Conventions: A4, 2 cm margins; titles bold 小二 (18 pt), body 小四 (12 pt);
East Asian text in 宋体 (named ``SimSun``, see :mod:`.fonts`) with Times New
Roman for Latin and digits, and ``zh-CN`` as the East Asian language, in
docDefaults, in every style and on every run, so Word, WPS and LibreOffice
all pick a Chinese Song (serif) face.
"""

from __future__ import annotations

from .cli import build, main
from .document import stable_bytes
from .forms import BUILDERS

__all__ = ["BUILDERS", "build", "main", "stable_bytes"]
