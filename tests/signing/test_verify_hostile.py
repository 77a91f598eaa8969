"""Hostile and damaged files give a failed report with a finding, never an exception."""

from __future__ import annotations

import pytest

from signing.verify import verify_pdf

from .hostile import HOSTILE_PDFS, corrupt_seal_timestamp


@pytest.mark.parametrize("name", sorted(HOSTILE_PDFS))
def test_hostile_structure_is_an_unreadable_finding(name, keystore):
    report = verify_pdf(HOSTILE_PDFS[name], [keystore.root_cert()])
    assert not report.ok
    assert [c.name for c in report.document_checks if not c.ok][:1] == ["readable"]


def test_corrupted_seal_timestamp_is_a_finding_of_that_signature(sealed_pdf, keystore):
    report = verify_pdf(corrupt_seal_timestamp(sealed_pdf), [keystore.root_cert()])
    assert not report.ok
    seal = report.signatures[-1]
    assert seal.kind == "document_timestamp" and not seal.ok
    assert any(f.startswith(f"{seal.field_name}: ") for f in report.failures)
