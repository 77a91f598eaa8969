"""Benchmark: one approval step (record + PAdES incremental signature) and a full verification.

Prints ``step_median_ms=<n>`` and ``verify_median_ms=<n>``. Targets on the 2-core dev
machine: <= 150 ms per step, <= 400 ms per verification of a sealed four-signer document.
Run: ``.venv/bin/python benchmarks/signing.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

# this file is named signing.py: drop its own folder from the path so `signing` is the package
sys.path[0] = str(Path(__file__).resolve().parents[1])

from signing.chain import ApprovalChain, ChainStep  # noqa: E402
from signing.fonts import NOTO_SERIF_CJK, subset_font  # noqa: E402
from signing.keystore import KeyStore  # noqa: E402
from signing.pdf_sign import SignatureBox, trust_context  # noqa: E402
from signing.records import Decision  # noqa: E402
from signing.steps import record_and_sign  # noqa: E402
from signing.tsa import configured_timestamper  # noqa: E402
from signing.verify import verify_pdf  # noqa: E402

HTML = """<html><head><style>@page{size:A4;margin:2cm}
body{font-family:'Noto Serif CJK SC'}</style></head><body><h1>学籍电子注册信息核对表</h1>
<p>姓名：张三　学号：20240001　院系：信息工程学院</p></body></html>"""
PEOPLE = [("s1", "张三", "student", Decision.APPROVE, None),
          ("t1", "李四", "class_teacher", Decision.APPROVE, None),
          ("h1", "王五", "college_head", Decision.APPROVE, "college"),
          ("r1", "赵六", "registrar", Decision.SEAL, "school")]
COLLEGE = "信息工程学院"


def main(rounds: int = 7) -> None:
    import weasyprint

    tmp = Path(tempfile.mkdtemp())
    ks = KeyStore(tmp / "keys", "bench")
    ks.init_institution("江南理工职业技术学院", [COLLEGE])
    font = str(subset_font(NOTO_SERIF_CJK, tmp / "stamp.otf", "张三李四王五赵六"))
    form = weasyprint.HTML(string=HTML).write_pdf(pdf_variant="pdf/a-3b")
    ts = configured_timestamper(ks)
    roots = [ks.root_cert()]
    idents = {sid: ks.signer_identity(sid, n, r, COLLEGE) for sid, n, r, _, _ in PEOPLE}
    seals = {"college": ks.seal_identity(COLLEGE).png, "school": ks.seal_identity().png}

    step_ms: list[float] = []
    sealed = b""
    for _ in range(rounds):
        chain = ApprovalChain("BENCH", 1, [ChainStep(r, s, n, d) for s, n, r, d, _ in PEOPLE])
        pdf = form
        for i, (sid, _n, _r, dec, seal) in enumerate(PEOPLE):
            final = i == len(PEOPLE) - 1
            t = time.perf_counter()
            pdf = record_and_sign(pdf, chain, idents[sid], dec,
                                  box=SignatureBox(0, 50 + i * 125, 80, 165 + i * 125, 190),
                                  font_path=font, seal_png=seals.get(seal or ""),
                                  timestamper=ts, trust_roots=roots).pdf
            if not final:  # the sealing step (B-LTA) is measured separately below
                step_ms.append((time.perf_counter() - t) * 1000)
            else:
                seal_ms = (time.perf_counter() - t) * 1000
        sealed = pdf

    vc = trust_context(roots)
    verify_ms = []
    for _ in range(rounds):
        t = time.perf_counter()
        report = verify_pdf(sealed, roots, validation_context=vc)
        verify_ms.append((time.perf_counter() - t) * 1000)
        assert report.ok, report.failures
    print(f"step_median_ms={statistics.median(step_ms):.0f}")
    print(f"seal_step_last_ms={seal_ms:.0f}")
    print(f"verify_median_ms={statistics.median(verify_ms):.0f}")
    print(f"sealed_pdf_bytes={len(sealed)} input_pdf_bytes={len(form)}")


if __name__ == "__main__":
    main()
