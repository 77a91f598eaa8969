"""Render benchmark: median warm render time and PDF size per form.

Prints one line per form: ``FORM_ID median_ms=<n> size_kb=<n>``.
Targets (issue 2): median <= 80 ms per one-page form, <= 150 KB per page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time

from doc_service.config import FORMS_ROOT, Institution
from doc_service.forms.spec import FORM_IDS, load_form
from doc_service.forms.validation import validate
from doc_service.rendering.context import DocumentMeta
from doc_service.rendering.pdf import default_renderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    renderer = default_renderer()
    institution = Institution()
    for form_id in FORM_IDS:
        form = load_form(form_id)
        raw = json.loads((FORMS_ROOT / form_id / "example.json").read_text(encoding="utf-8"))
        data = validate(form, raw)
        meta = DocumentMeta(number=form.format_number(2026, 123), code="7KQ2M9XH4P",
                            verify_url="http://127.0.0.1:8000/d/7KQ2M9XH4P",
                            issued_on=dt.date(2026, 11, 20))
        for _ in range(3):  # warm-up: layout caches, font loading
            out = renderer.render(form, data, meta, institution)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            out = renderer.render(form, data, meta, institution)
            times.append((time.perf_counter() - start) * 1000)
        size_kb = len(out.pdf) / 1024 / out.page_count
        print(f"{form_id} median_ms={statistics.median(times):.0f} size_kb={size_kb:.0f}")


if __name__ == "__main__":
    main()
