"""Key store: encrypted keys, tight permissions, certificates per signer, rotation."""

from __future__ import annotations

import stat

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from signing.chain import cert_fingerprint
from signing.errors import KeyStoreError
from signing.keystore import KeyStore, resolve_passphrase

from .conftest import COLLEGE, PASSPHRASE


def test_private_keys_are_encrypted_and_files_are_private(keystore):
    for key in keystore.path.rglob("key.pem"):
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in key.read_bytes()
    for p in keystore.path.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), p


def test_wrong_passphrase_is_a_keystore_error(keystore):
    other = KeyStore(keystore.path, "wrong")
    with pytest.raises(KeyStoreError):
        other.signer_identity("X-1", "某人", "student", COLLEGE)


def test_init_refuses_to_overwrite(keystore):
    with pytest.raises(KeyStoreError):
        KeyStore(keystore.path, PASSPHRASE).init_institution("别的学校", [])


def test_signer_certificate_names_person_role_and_college(keystore):
    ident = keystore.signer_identity("T-9", "李四", "class_teacher", COLLEGE)
    subject = ident.cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "李四"
    assert subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "class_teacher"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == COLLEGE
    ident.cert.verify_directly_issued_by(keystore.root_cert())
    again = keystore.signer_identity("T-9", "李四", "class_teacher", COLLEGE)
    assert again.fingerprint == ident.fingerprint  # issued once, reused


def test_rotation_keeps_old_certificate_for_verification(keystore):
    old = keystore.signer_identity("T-ROT", "周八", "class_teacher", COLLEGE)
    new = keystore.rotate_signer("T-ROT", "周八", "class_teacher", COLLEGE)
    assert new.fingerprint != old.fingerprint
    assert keystore.signer_identity("T-ROT", "周八", "class_teacher", COLLEGE).fingerprint \
        == new.fingerprint
    assert keystore.cert_by_fingerprint(old.fingerprint) is not None


def test_tsa_certificate_has_critical_timestamping_eku(keystore):
    cert, _ = keystore.tsa_identity()
    ext = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE)
    assert ext.critical
    assert list(ext.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_seals_exist_for_school_and_each_college(keystore):
    school = keystore.seal_identity()
    college = keystore.seal_identity(COLLEGE)
    assert school.png.startswith(b"\x89PNG") and college.png.startswith(b"\x89PNG")
    assert cert_fingerprint(school.cert) != cert_fingerprint(college.cert)
    with pytest.raises(KeyStoreError):
        keystore.seal_identity("不存在学院")


def test_dev_passphrase_is_made_once_with_mode_600(tmp_path):
    first = resolve_passphrase(tmp_path, env={})
    assert resolve_passphrase(tmp_path, env={}) == first
    assert stat.S_IMODE((tmp_path / "signing-passphrase").stat().st_mode) == 0o600
    assert resolve_passphrase(tmp_path, env={"DOC_SERVICE_KEY_PASSPHRASE": "x"}) == b"x"
