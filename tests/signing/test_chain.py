"""The approval chain enforces order, ends on rejection, and verify_chain says what failed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from signing import pki
from signing.chain import ApprovalChain, ChainState, ChainStep, cert_fingerprint, verify_chain
from signing.errors import ChainClosedError, ChainOrderError, DuplicateDecisionError
from signing.records import Decision, sign_record

T0 = datetime.now(UTC)
"""When the chains are decided: set again by ``pki_world`` when it issues the certificates,
so it lies inside their validity (they are backdated only minutes, and a long suite can
reach this module later than that after collection). No test asserts on time."""


@dataclass(frozen=True)
class FakeSigner:
    cert: x509.Certificate
    key: Any


@pytest.fixture(scope="module")
def pki_world():
    global T0
    T0 = datetime.now(UTC)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = pki.make_root(pki.SubjectSpec("测试根证书", "测试学院"), root_key)
    signers = {}
    for sid, role in (("s1", "student"), ("t1", "class_teacher"), ("h1", "college_head"),
                      ("r1", "registrar")):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = pki.issue(pki.CertProfile.SIGNER, pki.SubjectSpec(sid, "测试学院", title=role,
                                                                 user_id=sid),
                         key.public_key(), root, root_key)
        signers[sid] = FakeSigner(cert, key)
    return root, signers


STEPS = [ChainStep("student", "s1", "张三"), ChainStep("class_teacher", "t1", "李四"),
         ChainStep("college_head", "h1", "王五"),
         ChainStep("registrar", "r1", "赵六", Decision.SEAL)]


def _decide(chain, signers, sid, role, decision=Decision.APPROVE, minutes=0, comment=""):
    return chain.decide(signers[sid], signer_id=sid, role=role, decision=decision,
                        doc_sha256="0" * 64, at=T0 + timedelta(minutes=minutes),
                        comment=comment)


def _full_chain(signers, doc="DOC-1"):
    chain = ApprovalChain(doc, 1, STEPS)
    for i, st in enumerate(STEPS):
        _decide(chain, signers, st.signer_id, st.role, st.decision_kind, minutes=i)
    return chain


def _lookup(signers):
    certs = {cert_fingerprint(s.cert): s.cert for s in signers.values()}
    return certs.get


def test_chain_moves_from_pending_to_completed_in_order(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    assert chain.state is ChainState.PENDING
    _decide(chain, signers, "s1", "student")
    assert chain.state is ChainState.IN_PROGRESS
    assert chain.next_step == STEPS[1]
    for i, st in enumerate(STEPS[1:], start=1):
        _decide(chain, signers, st.signer_id, st.role, st.decision_kind, minutes=i)
    assert chain.state is ChainState.COMPLETED
    assert chain.next_step is None


def test_each_decision_returns_the_new_state_and_whose_turn_it_is(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    first = _decide(chain, signers, "s1", "student")
    assert (first.record.position, first.state, first.next_step) == (
        0, ChainState.IN_PROGRESS, STEPS[1])
    assert first.next_position == 1 and not first.ended
    assert first.record == chain.records[-1]
    for i, st in enumerate(STEPS[1:-1], start=1):
        _decide(chain, signers, st.signer_id, st.role, st.decision_kind, minutes=i)
    last = _decide(chain, signers, "r1", "registrar", Decision.SEAL, minutes=3)
    assert (last.state, last.next_step, last.next_position) == (ChainState.COMPLETED, None, None)
    assert last.ended


def test_a_rejection_ends_the_chain_with_no_one_next(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    _decide(chain, signers, "s1", "student")
    sent_back = _decide(chain, signers, "t1", "class_teacher", Decision.REJECT,
                        comment="出生日期有误")
    assert (sent_back.state, sent_back.next_step) == (ChainState.REJECTED, None)
    assert sent_back.ended and sent_back.record.decision is Decision.REJECT


def test_voiding_a_completed_chain_is_its_last_transition(pki_world):
    _, signers = pki_world
    chain = _full_chain(signers)
    voided = chain.void(signers["r1"], signer_id="r1", signer_name="赵六", role="registrar",
                        doc_sha256="0" * 64, at=T0 + timedelta(minutes=9), reason="误发")
    assert (voided.state, voided.next_step, voided.record.position) == (
        ChainState.VOIDED, None, len(STEPS))
    with pytest.raises(ChainClosedError):
        chain.void(signers["r1"], signer_id="r1", signer_name="赵六", role="registrar",
                   doc_sha256="0" * 64, at=T0 + timedelta(minutes=10), reason="再次作废")


def test_signing_out_of_order_is_refused(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    with pytest.raises(ChainOrderError):
        _decide(chain, signers, "t1", "class_teacher")


def test_wrong_decision_kind_is_refused(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    with pytest.raises(ChainOrderError):
        _decide(chain, signers, "s1", "student", Decision.SEAL)


def test_signing_twice_is_refused(pki_world):
    _, signers = pki_world
    steps = [ChainStep("student", "s1", "张三"), ChainStep("student", "s1", "张三")]
    chain = ApprovalChain("DOC-1", 1, steps)
    _decide(chain, signers, "s1", "student")
    with pytest.raises(DuplicateDecisionError):
        _decide(chain, signers, "s1", "student")


def test_rejection_ends_the_chain_with_its_reason(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    _decide(chain, signers, "s1", "student")
    _decide(chain, signers, "t1", "class_teacher", Decision.REJECT, comment="出生日期有误")
    assert chain.state is ChainState.REJECTED
    assert chain.rejection_reason == "出生日期有误"
    with pytest.raises(ChainClosedError):
        _decide(chain, signers, "h1", "college_head")


def test_rejection_without_reason_is_refused(pki_world):
    _, signers = pki_world
    chain = ApprovalChain("DOC-1", 1, STEPS)
    with pytest.raises(ChainOrderError):
        _decide(chain, signers, "s1", "student", Decision.REJECT)


def test_signing_after_completion_is_refused(pki_world):
    _, signers = pki_world
    chain = _full_chain(signers)
    with pytest.raises(ChainClosedError):
        _decide(chain, signers, "r1", "registrar", Decision.SEAL)


def test_stored_records_are_replayed_through_the_rules(pki_world):
    _, signers = pki_world
    records = _full_chain(signers).records
    again = ApprovalChain("DOC-1", 1, STEPS, records)
    assert again.state is ChainState.COMPLETED
    with pytest.raises(ChainOrderError):
        ApprovalChain("DOC-1", 1, STEPS, [records[1], records[0]])


def test_intact_chain_verifies_with_every_check_passing(pki_world):
    root, signers = pki_world
    report = verify_chain(_full_chain(signers).records, _lookup(signers), trust_roots=[root],
                          steps=STEPS)
    assert report.ok, report.failures
    assert {c.name for c in report.records[0].checks} >= {
        "position", "link", "document", "signature", "issued_by_root"}


def test_altered_record_fails_signature_and_next_link(pki_world):
    root, signers = pki_world
    records = list(_full_chain(signers).records)
    records[1] = replace(records[1], comment="改过")
    report = verify_chain(records, _lookup(signers), trust_roots=[root])
    assert not report.ok
    assert [c.name for c in report.records[1].failures] == ["signature"]
    assert [c.name for c in report.records[2].failures] == ["link"]


def test_removed_record_breaks_position_and_link(pki_world):
    root, signers = pki_world
    records = list(_full_chain(signers).records)
    del records[1]
    report = verify_chain(records, _lookup(signers), trust_roots=[root])
    names = {c.name for c in report.records[1].failures}
    assert {"position", "link"} <= names


def test_reordered_records_are_reported(pki_world):
    root, signers = pki_world
    records = list(_full_chain(signers).records)
    records[1], records[2] = records[2], records[1]
    report = verify_chain(records, _lookup(signers), trust_roots=[root])
    assert not report.records[1].ok and not report.records[2].ok


def test_record_copied_from_another_document_is_reported(pki_world):
    root, signers = pki_world
    records = list(_full_chain(signers).records)
    other = _full_chain(signers, doc="DOC-2").records
    records[2] = other[2]
    report = verify_chain(records, _lookup(signers), document_id="DOC-1", trust_roots=[root])
    assert "document" in {c.name for c in report.records[2].failures}


def test_record_signed_by_key_outside_the_root_is_reported(pki_world):
    root, signers = pki_world
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue_root = pki.make_root(pki.SubjectSpec("伪造根", "伪造"), rogue_key)
    rogue = pki.issue(pki.CertProfile.SIGNER, pki.SubjectSpec("t1", "测试学院",
                                                              title="class_teacher",
                                                              user_id="t1"),
                      rogue_key.public_key(), rogue_root, rogue_key)
    records = list(_full_chain(signers).records)
    forged = sign_record(replace(records[0], cert_fingerprint=cert_fingerprint(rogue)),
                         rogue_key)
    lookup = {cert_fingerprint(rogue): rogue} | {
        cert_fingerprint(s.cert): s.cert for s in signers.values()}
    report = verify_chain([forged], lookup.get, trust_roots=[root])
    assert "issued_by_root" in {c.name for c in report.records[0].failures}
