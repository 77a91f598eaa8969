"""Rotating a signer's key leaves what they signed before verifiable."""

from __future__ import annotations

from typing import Any

from signing.verify import verify_pdf


def test_documents_signed_before_and_after_rotation_both_verify(
        api: Any, students: list[dict[str, Any]], runtime: Any) -> None:
    from tests.web.test_archive_web import seal_certificate

    first = seal_certificate(api, next(s for s in students if s["class_no"] == "计科2601"))
    from sqlalchemy import select

    from doc_service.storage.models import User

    with runtime.sessions() as session:
        registrar = session.scalar(select(User).where(User.username == "registrar"))
    old = runtime.keystore.signer_identity(f"user-{registrar.id}", registrar.name,
                                           registrar.role, None)
    new = runtime.keystore.rotate_signer(f"user-{registrar.id}", registrar.name,
                                         registrar.role, None)
    assert new.cert.serial_number != old.cert.serial_number
    second = seal_certificate(api, next(s for s in students if s["class_no"] == "软件2601"))
    for doc in (first, second):
        pdf = api("registrar", "get", f"/documents/{doc['id']}/pdf").data
        report = verify_pdf(pdf, runtime.trust_roots)
        assert report.ok, report.failures
