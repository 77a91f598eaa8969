"""Shared fixtures: a key store with an institution, a stamp font, real PDF/A-3b input, and a
sealed four-signer document made once per session."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from signing.box import SignatureBox
from signing.chain import ApprovalChain, ChainStep
from signing.fonts import NOTO_SERIF_CJK, subset_font
from signing.keystore import KeyStore
from signing.records import Decision
from signing.steps import record_and_sign
from signing.tsa import configured_timestamper

SCHOOL = "江南理工职业技术学院"
COLLEGE = "信息工程学院"
PASSPHRASE = "test-passphrase-不要在生产中使用"

FORM_HTML = """<html><head><style>
@page { size: A4; margin: 2cm }
body { font-family: 'Noto Serif CJK SC'; font-size: 12pt }
</style></head><body>
<h1>学籍电子注册信息核对表</h1>
<p>姓名：张三　学号：20240001　院系：信息工程学院　班号：计算机2401</p>
<p>身份证号：******************　入学年月：2024年9月　层次：专科</p>
</body></html>"""


@dataclass(frozen=True)
class Person:
    signer_id: str
    name: str
    role: str
    college: str | None
    decision: Decision
    seal: str | None  # None, "college" or "school"


CHECKLIST = (
    Person("20240001", "张三", "student", COLLEGE, Decision.APPROVE, None),
    Person("T-0042", "李四", "class_teacher", COLLEGE, Decision.APPROVE, None),
    Person("H-0007", "王五", "college_head", COLLEGE, Decision.APPROVE, "college"),
    Person("R-0001", "赵六", "registrar", None, Decision.SEAL, "school"),
)


def box_for(i: int) -> SignatureBox:
    return SignatureBox(0, 50 + i * 125, 80, 165 + i * 125, 190)


@pytest.fixture(scope="session")
def keystore(tmp_path_factory) -> KeyStore:
    ks = KeyStore(tmp_path_factory.mktemp("instance") / "keys", PASSPHRASE)
    ks.init_institution(SCHOOL, [COLLEGE, "机电工程学院"])
    return ks


@pytest.fixture(scope="session")
def stamp_font(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("fonts") / "stamp.otf"
    return str(subset_font(NOTO_SERIF_CJK, out, "张三李四王五赵六钱七"))


@pytest.fixture(scope="session")
def form_pdf() -> bytes:
    import gc
    import warnings

    import weasyprint

    # WeasyPrint 70 leaves its ICC profile file open; collect it here, not in a random test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = weasyprint.HTML(string=FORM_HTML).write_pdf(pdf_variant="pdf/a-3b")
        gc.collect()
    return pdf


def run_chain(pdf: bytes, keystore: KeyStore, font: str, timestamper, *, document_id="DOC-1",
              people=CHECKLIST, upto: int | None = None, identities=None):
    """Run ``people`` through a chain; returns (pdf, chain)."""
    chain = ApprovalChain(document_id, 1, [
        ChainStep(p.role, p.signer_id, p.name, p.decision) for p in people])
    for i, p in enumerate(people[:upto]):
        ident = (identities or {}).get(p.signer_id) or keystore.signer_identity(
            p.signer_id, p.name, p.role, p.college)
        seal = None
        if p.seal == "college":
            seal = keystore.seal_identity(p.college).png
        elif p.seal == "school":
            seal = keystore.seal_identity().png
        pdf = record_and_sign(pdf, chain, ident, p.decision, box=box_for(i), font_path=font,
                              seal_png=seal, timestamper=timestamper,
                              trust_roots=[keystore.root_cert()]).pdf
    return pdf, chain


@pytest.fixture(scope="session")
def timestamper(keystore):
    return configured_timestamper(keystore)


@pytest.fixture(scope="session")
def sealed(form_pdf, keystore, stamp_font, timestamper):
    return run_chain(form_pdf, keystore, stamp_font, timestamper)


@pytest.fixture(scope="session")
def sealed_pdf(sealed) -> bytes:
    return sealed[0]


@pytest.fixture(scope="session")
def nss_db(tmp_path_factory, keystore) -> str:
    d = tmp_path_factory.mktemp("nss")
    root = d / "root.pem"
    root.write_text(keystore.root_pem())
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{d}"], check=True)
    subprocess.run(["certutil", "-A", "-n", "root", "-t", "CT,C,C", "-i", str(root), "-d",
                    f"sql:{d}"], check=True)
    return f"sql:{d}"


@pytest.fixture
def tmp_pdf(tmp_path):
    def write(data: bytes, name: str = "doc.pdf") -> Path:
        p = tmp_path / name
        p.write_bytes(data)
        return p
    return write
