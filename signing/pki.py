"""Certificates of the institution's own PKI: root CA, seals, time-stamping authority, signers.

Pure ``cryptography`` builders; where the keys live is :mod:`signing.keystore`'s business.
Profiles are chosen for outside validators: RSA keys and SHA-256 (pdfsig/NSS, Adobe, pyHanko),
no EKU on signing certificates (NSS would then demand emailProtection), and a critical
``timeStamping`` EKU on the TSA certificate as RFC 3161 §2.3 requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_KEY_BITS = 3072
LEAF_KEY_BITS = 2048
BACKDATE = timedelta(minutes=10)
"""Certificates start a little in the past so clocks that lag a bit still accept them."""


class CertProfile(StrEnum):
    ROOT = "root"
    SEAL = "seal"
    TSA = "tsa"
    SIGNER = "signer"


VALIDITY = {
    CertProfile.ROOT: timedelta(days=365 * 30),
    CertProfile.SEAL: timedelta(days=365 * 10),
    CertProfile.TSA: timedelta(days=365 * 12),
    CertProfile.SIGNER: timedelta(days=365 * 5),
}


@dataclass(frozen=True)
class SubjectSpec:
    """The parts of a subject name this service uses (C=CN always)."""

    common_name: str
    organization: str
    unit: str | None = None
    """College (OU), when the holder belongs to one."""
    title: str | None = None
    """Role of a signer, e.g. ``class_teacher``."""
    user_id: str | None = None
    """Signer id from the roster (UID)."""

    def to_name(self) -> x509.Name:
        attrs = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization),
        ]
        if self.unit:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, self.unit))
        if self.title:
            attrs.append(x509.NameAttribute(NameOID.TITLE, self.title))
        if self.user_id:
            attrs.append(x509.NameAttribute(NameOID.USER_ID, self.user_id))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, self.common_name))
        return x509.Name(attrs)


def new_key(bits: int = LEAF_KEY_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def make_root(subject: SubjectSpec, key: Any, now: datetime | None = None) -> x509.Certificate:
    """Self-signed root CA of the school."""
    now = now or _now()
    name = subject.to_name()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY[CertProfile.ROOT])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def issue(
    profile: CertProfile,
    subject: SubjectSpec,
    public_key: Any,
    issuer_cert: x509.Certificate,
    issuer_key: Any,
    now: datetime | None = None,
) -> x509.Certificate:
    """Issue an end-entity certificate of ``profile`` signed by the root."""
    now = now or _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.to_name())
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + VALIDITY[profile], issuer_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=profile is not CertProfile.TSA,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                # an issuer's key signs certificates, so it is never an X25519/X448/ML-KEM key
                cast(CertificateIssuerPublicKeyTypes, issuer_cert.public_key())),
            critical=False,
        )
    )
    if profile is CertProfile.TSA:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def subject_attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(oid)
    return str(attrs[0].value) if attrs else None
