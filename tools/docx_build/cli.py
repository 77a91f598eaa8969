"""``build`` one form's template, and the command line over all of them."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from doc_service.config import FORMS_ROOT

from .document import stable_bytes
from .forms import BUILDERS


def build(form_id: str, root: Path = FORMS_ROOT) -> Path:
    path = root / form_id / "form.docx"
    path.write_bytes(stable_bytes(BUILDERS[form_id]()))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the editable Word templates templates/forms/<form_id>/form.docx.")
    parser.add_argument("forms", nargs="*", metavar="FORM_ID",
                        help="forms to build (default: all five)")
    parser.add_argument("--root", type=Path, default=FORMS_ROOT, help="templates/forms folder")
    args = parser.parse_args(argv)
    unknown = [f for f in args.forms if f not in BUILDERS]
    if unknown:
        parser.error(f"unknown form id(s): {', '.join(unknown)}")
    for form_id in args.forms or BUILDERS:
        print(build(form_id, args.root))
    return 0
