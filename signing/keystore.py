"""The institution's key store on disk: root CA, seals, TSA and per-signer keys.

Layout under the keys directory (``instance/keys``), directories 0700 and files 0600::

    institution.json                 school name, colleges and their seal directories
    root/cert.pem, root/key.pem      school root CA
    tsa/cert.pem,  tsa/key.pem       time-stamping authority
    seals/<slug>/cert.pem, key.pem, seal.png     school seal (slug "school") and college seals
    signers/<id>/<serial>/cert.pem, key.pem      every certificate a signer ever had
    signers/<id>/current             serial of the signer's current certificate

Private keys are PKCS#8, encrypted at rest under the passphrase from configuration
(``DOC_SERVICE_KEY_PASSPHRASE``); without it a random one is made once in the instance folder,
which is only fit for development and is logged as such. Rotation issues a new key and
certificate; old ones stay so that old signatures still verify.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

from . import pki
from .chain import cert_fingerprint
from .errors import KeyStoreError
from .seals import DEFAULT_SEAL_FONT, SealSpec, seal_png

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "DOC_SERVICE_KEY_PASSPHRASE"
DEV_PASSPHRASE_FILE = "signing-passphrase"
SCHOOL_SEAL = "school"
SCHOOL_SEAL_TEXT = "学籍管理专用章"


@dataclass(frozen=True)
class SignerIdentity:
    """A signing certificate with its private key and the chain up to the root."""

    signer_id: str
    name: str
    role: str
    college: str | None
    cert: x509.Certificate
    key: Any = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()
    """Issuer certificates (the root) for embedding in signatures."""

    @property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.cert)


@dataclass(frozen=True)
class SealIdentity:
    """A seal (school or college): its certificate, key and the red seal image."""

    slug: str
    holder: str
    cert: x509.Certificate
    key: Any = field(repr=False)
    png: bytes = field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()


def resolve_passphrase(instance_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The key-encryption passphrase: from the environment, else a dev secret made once."""
    env = os.environ if env is None else env
    value = env.get(PASSPHRASE_ENV)
    if value:
        return value.encode("utf-8")
    path = Path(instance_dir) / DEV_PASSPHRASE_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    log.warning(
        "!!! %s is not set: private keys are encrypted under a development secret stored in "
        "%s. Set %s in production and keep it out of the instance folder. !!!",
        PASSPHRASE_ENV, path, PASSPHRASE_ENV,
    )
    return path.read_text().strip().encode("utf-8")


def _safe_dir(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}", name):
        return name
    return "h-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:20]


class KeyStore:
    """Keys and certificates of one institution, kept in ``path``."""

    def __init__(self, path: str | os.PathLike[str], passphrase: bytes | str) -> None:
        self.path = Path(path)
        self._passphrase = passphrase.encode() if isinstance(passphrase, str) else passphrase
        if not self._passphrase:
            raise KeyStoreError("an empty passphrase would leave keys unencrypted")
        self._certs: dict[Path, x509.Certificate] = {}
        self._keys: dict[Path, PrivateKeyTypes] = {}

    # ------------------------------------------------------------------ file helpers
    def _mkdir(self, d: Path) -> Path:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdir's mode only reaches the leaf: tighten every level inside the store
        for p in (d, *d.parents):
            os.chmod(p, 0o700)
            if p == self.path:
                break
        return d

    def _write(self, p: Path, data: bytes) -> None:
        self._mkdir(p.parent)
        # A name of its own per writer: two writers of one file must not share a temporary
        # (one would rename the other's away: FileNotFoundError).
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)

    def _save_pair(self, d: Path, cert: x509.Certificate, key: Any) -> None:
        self._write(d / "key.pem", key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        ))
        self._write(d / "cert.pem", cert.public_bytes(serialization.Encoding.PEM))

    def _cert(self, d: Path) -> x509.Certificate:
        p = d / "cert.pem"
        if p not in self._certs:
            try:
                self._certs[p] = x509.load_pem_x509_certificate(p.read_bytes())
            except (OSError, ValueError) as e:
                raise KeyStoreError(f"cannot read certificate {p}") from e
        return self._certs[p]

    def _key(self, d: Path) -> Any:
        p = d / "key.pem"
        if p not in self._keys:
            try:
                self._keys[p] = serialization.load_pem_private_key(
                    p.read_bytes(), password=self._passphrase)
            except OSError as e:
                raise KeyStoreError(f"cannot read key {p}") from e
            except (ValueError, TypeError) as e:
                raise KeyStoreError(f"cannot decrypt {p}: wrong passphrase?") from e
        return self._keys[p]

    # ------------------------------------------------------------------ institution
    @property
    def initialized(self) -> bool:
        return (self.path / "institution.json").exists()

    def institution(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / "institution.json").read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise KeyStoreError(f"no institution in {self.path}: run `keys init` first") from e
        if not isinstance(data, dict):
            raise KeyStoreError(f"{self.path / 'institution.json'} is not a JSON object")
        return data

    def init_institution(
        self,
        school_name: str,
        colleges: list[str],
        *,
        seal_font: str = DEFAULT_SEAL_FONT,
        school_seal_text: str = SCHOOL_SEAL_TEXT,
    ) -> None:
        """Create root CA, TSA, school seal and one seal per college. Refuses to overwrite."""
        if self.initialized:
            raise KeyStoreError(f"{self.path} already holds an institution; not overwriting")
        self._mkdir(self.path)
        root_key = pki.new_key(pki.ROOT_KEY_BITS)
        root = pki.make_root(pki.SubjectSpec(f"{school_name}电子文件根证书", school_name),
                             root_key)
        self._save_pair(self.path / "root", root, root_key)
        tsa_key = pki.new_key()
        tsa = pki.issue(pki.CertProfile.TSA,
                        pki.SubjectSpec(f"{school_name}时间戳服务", school_name),
                        tsa_key.public_key(), root, root_key)
        self._save_pair(self.path / "tsa", tsa, tsa_key)
        seals = {SCHOOL_SEAL: school_name}
        self._make_seal(SCHOOL_SEAL, school_name, None, root, root_key,
                        SealSpec(school_name, school_seal_text, font_path=seal_font))
        for college in colleges:
            slug = "college-" + hashlib.sha256(college.encode("utf-8")).hexdigest()[:12]
            seals[slug] = college
            self._make_seal(slug, school_name, college, root, root_key,
                            SealSpec(f"{school_name}{college}", font_path=seal_font))
        meta = {"school": school_name, "colleges": colleges, "seals": seals}
        self._write(self.path / "institution.json",
                    json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))

    def add_college(self, college: str, *, seal_font: str = DEFAULT_SEAL_FONT) -> bool:
        """Give a college created after set-up (e.g. by a roster import) its seal; idempotent."""
        meta = self.institution()
        if college in meta["seals"].values():
            return False
        root_dir = self.path / "root"
        root, root_key = self._cert(root_dir), self._key(root_dir)
        slug = "college-" + hashlib.sha256(college.encode("utf-8")).hexdigest()[:12]
        school = meta["school"]
        self._make_seal(slug, school, college, root, root_key,
                        SealSpec(f"{school}{college}", font_path=seal_font))
        meta["seals"][slug] = college
        meta["colleges"] = [*meta["colleges"], college]
        self._write(self.path / "institution.json",
                    json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))
        return True

    def _make_seal(self, slug: str, school: str, college: str | None, root: x509.Certificate,
                   root_key: Any, spec: SealSpec) -> None:
        key = pki.new_key()
        holder = college or school
        cert = pki.issue(pki.CertProfile.SEAL,
                         pki.SubjectSpec(f"{school}{college or ''}电子印章", school, unit=college),
                         key.public_key(), root, root_key)
        d = self.path / "seals" / slug
        self._save_pair(d, cert, key)
        self._write(d / "seal.png", seal_png(spec))
        log.info("seal %s made for %s", slug, holder)

    # ------------------------------------------------------------------ accessors
    def root_cert(self) -> x509.Certificate:
        return self._cert(self.path / "root")

    def root_pem(self) -> str:
        return self.root_cert().public_bytes(serialization.Encoding.PEM).decode("ascii")

    def tsa_identity(self) -> tuple[x509.Certificate, Any]:
        d = self.path / "tsa"
        return self._cert(d), self._key(d)

    def seal_identity(self, college: str | None = None) -> SealIdentity:
        """The school seal, or the seal of ``college``."""
        seals: dict[str, str] = self.institution()["seals"]
        if college is None:
            slug = SCHOOL_SEAL
        else:
            slugs = [s for s, name in seals.items() if name == college and s != SCHOOL_SEAL]
            if not slugs:
                raise KeyStoreError(f"no seal for college {college!r}")
            slug = slugs[0]
        d = self.path / "seals" / slug
        return SealIdentity(slug=slug, holder=seals[slug], cert=self._cert(d), key=self._key(d),
                            png=(d / "seal.png").read_bytes(), chain=(self.root_cert(),))

    # ------------------------------------------------------------------ signers
    def _signer_dir(self, signer_id: str) -> Path:
        return self.path / "signers" / _safe_dir(signer_id)

    @contextmanager
    def _signer_lock(self, d: Path) -> Iterator[None]:
        """Hold the signer's lock file: one writer of a signer's keys at a time, across
        threads and processes (flock locks an open file description, so each call opens
        its own)."""
        self._mkdir(d)
        fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _current_identity(self, signer_id: str, name: str, role: str,
                          college: str | None) -> SignerIdentity | None:
        """The signer's current identity if its certificate still names them as given."""
        d = self._signer_dir(signer_id)
        current = d / "current"
        if not current.exists():
            return None
        cdir = d / current.read_text().strip()
        cert = self._cert(cdir)
        if (pki.subject_attr(cert, NameOID.COMMON_NAME),
                pki.subject_attr(cert, NameOID.TITLE),
                pki.subject_attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME)) != (
                name, role, college):
            return None
        return SignerIdentity(signer_id, name, role, college, cert, self._key(cdir),
                              (self.root_cert(),))

    def signer_identity(self, signer_id: str, name: str, role: str,
                        college: str | None = None) -> SignerIdentity:
        """The signer's current identity; a certificate is issued on first use, and again
        (rotation) when name, role or college no longer match the current one.

        Issuing happens once however many decisions of a new signer arrive together: the
        others wait on the signer's lock and then find the new certificate.
        """
        found = self._current_identity(signer_id, name, role, college)
        if found is not None:
            return found
        with self._signer_lock(self._signer_dir(signer_id)):
            found = self._current_identity(signer_id, name, role, college)
            return found or self._issue_signer(signer_id, name, role, college)

    def rotate_signer(self, signer_id: str, name: str, role: str,
                      college: str | None = None) -> SignerIdentity:
        """Issue a new key and certificate for the signer; old ones stay for verification."""
        with self._signer_lock(self._signer_dir(signer_id)):
            return self._issue_signer(signer_id, name, role, college)

    def _issue_signer(self, signer_id: str, name: str, role: str,
                      college: str | None) -> SignerIdentity:
        """A new key and certificate made current (the caller holds the signer's lock)."""
        root_dir = self.path / "root"
        root, root_key = self._cert(root_dir), self._key(root_dir)
        school = self.institution()["school"]
        key = pki.new_key()
        cert = pki.issue(pki.CertProfile.SIGNER,
                         pki.SubjectSpec(name, school, unit=college, title=role,
                                         user_id=signer_id),
                         key.public_key(), root, root_key)
        d = self._signer_dir(signer_id)
        serial = f"{cert.serial_number:x}"
        self._save_pair(d / serial, cert, key)
        self._write(d / "current", serial.encode("ascii"))
        return SignerIdentity(signer_id, name, role, college, cert, key, (root,))

    def certificates(self) -> list[x509.Certificate]:
        """Every certificate in the store, rotated-out ones included."""
        return [self._cert(p.parent) for p in sorted(self.path.rglob("cert.pem"))]

    def cert_by_fingerprint(self, fingerprint: str) -> x509.Certificate | None:
        for cert in self.certificates():
            if cert_fingerprint(cert) == fingerprint:
                return cert
        return None
