"""Golden vectors: the canonical record format, its signature and hash are pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from signing.errors import RecordError
from signing.records import (
    GENESIS_HASH,
    ChainRecord,
    Decision,
    canonical_json,
    chain_document_bytes,
    parse_chain_document,
    sign_record,
    verify_record_signature,
)

VECTORS = Path(__file__).parent / "vectors"

R0_SIGNING_BYTES = (
    '{"at":"2024-09-02T01:30:00Z","cert_fingerprint":"' + "b" * 64 + '","comment":"信息无误",'
    '"decision":"approve","doc_sha256":"' + "a" * 64 + '","document_id":"XJ-2024-000123",'
    '"document_version":1,"position":0,"prev_hash":"' + "0" * 64 + '","role":"student",'
    '"signer_id":"20240001","signer_name":"张三"}'
).encode("utf-8")
R0_SIGNATURE = (
    "YoYwr43IEjT4jWdG1xNRXR+TmqJlHKRlZiTRdcB1Hx5VQlzLm7oF2Azy/NKAGOJ9YFOWjuP/Qfa78SfagFYiYmAIOnF"
    "hjJH5raRzYa1vqE39097f4DLF1eSe4HUIX+wPSZO+I4QJ5epvUX9iR3mKK413knoWKlE/I74NWy+cUwU0N5G1xpdw"
    "djbC2ot5zbKtWFwiOYOHuPiWZKjjg9BdyLGGoQvODMhBQgMmrsi+khZ1Y0KcLeldlIiVUKkQQ2DCQxLsRUQyk3jXdM"
    "9PBaTtHNZdGu6eEEZOe2PlXPOYhZZpA4+xEYgdaUskfgzHeg+7lYUiWxMPAphmu2sPJCPhpg=="
)
R0_HASH = "6a8c7db4de55c8658d34b4f6e01aca5270530f301e9997033bd76bac2b1b6559"
R1_HASH = "ad5511942e984524e8cd41123f13b8ce07cba6438dfc20b60212f89f0cb4c572"


@pytest.fixture(scope="module")
def golden_key():
    return serialization.load_pem_private_key(
        (VECTORS / "golden_signer_key.pem").read_bytes(), password=None)


def _r0() -> ChainRecord:
    return ChainRecord(
        position=0, document_id="XJ-2024-000123", document_version=1, role="student",
        signer_id="20240001", signer_name="张三", decision=Decision.APPROVE, comment="信息无误",
        at="2024-09-02T01:30:00Z", doc_sha256="a" * 64, prev_hash=GENESIS_HASH,
        cert_fingerprint="b" * 64)


def _r1(prev_hash: str) -> ChainRecord:
    return ChainRecord(
        position=1, document_id="XJ-2024-000123", document_version=1, role="class_teacher",
        signer_id="T-0042", signer_name="李老师", decision=Decision.REJECT,
        comment="出生日期有误", at="2024-09-02T02:00:05Z", doc_sha256="c" * 64,
        prev_hash=prev_hash, cert_fingerprint="d" * 64)


def test_canonical_signing_bytes_match_golden_vector():
    assert _r0().signing_bytes() == R0_SIGNING_BYTES


def test_signature_and_record_hash_match_golden_vectors(golden_key):
    r0 = sign_record(_r0(), golden_key)
    assert r0.signature == R0_SIGNATURE
    assert r0.record_hash == R0_HASH
    r1 = sign_record(_r1(r0.record_hash), golden_key)
    assert r1.record_hash == R1_HASH


def test_golden_signature_verifies_and_fails_when_a_field_changes(golden_key):
    r0 = sign_record(_r0(), golden_key)
    assert verify_record_signature(r0, golden_key.public_key())
    tampered = ChainRecord.from_dict(r0.to_dict() | {"comment": "信息有误"})
    assert not verify_record_signature(tampered, golden_key.public_key())


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "学籍"}) == '{"a":"学籍","b":1}'.encode()


def test_chain_document_round_trips(golden_key):
    r0 = sign_record(_r0(), golden_key)
    data = chain_document_bytes("XJ-2024-000123", 1, [r0])
    assert parse_chain_document(data) == ("XJ-2024-000123", 1, [r0])


def test_record_with_unknown_field_is_refused(golden_key):
    d = sign_record(_r0(), golden_key).to_dict() | {"extra": 1}
    with pytest.raises(RecordError):
        ChainRecord.from_dict(d)
