"""Time stamps (RFC 3161): the service's own TSA, or an external one over HTTP.

Both are pyHanko ``TimeStamper`` subclasses, so the PDF signer takes either. The local TSA
signs with the TSA certificate from the key store and embeds the root, so its tokens validate
offline. :func:`respond` answers a DER ``TimeStampReq`` with a DER ``TimeStampResp``, for the
web app to serve at ``/tsa`` (``application/timestamp-query`` → ``application/timestamp-reply``).
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .errors import TimestampError

TSA_QUERY_TYPE = "application/timestamp-query"
TSA_REPLY_TYPE = "application/timestamp-reply"


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def to_asn1_key(key: Any) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def cert_store(certs: Iterable[x509.Certificate]) -> SimpleCertificateStore:
    """pyHanko's certificate registry holding ``certs``."""
    store = SimpleCertificateStore()
    store.register_multiple(to_asn1_cert(c) for c in certs)
    return store


class LocalTimeStamper(DummyTimeStamper):
    """The service's own TSA, answering in process with the key store's TSA key.

    pyHanko's ``DummyTimeStamper`` is a complete RFC 3161 responder (granted status, TSTInfo
    with nonce, ESS signing-certificate attribute); this class binds it to our key, our root,
    and UTC time.
    """

    def __init__(self, tsa_cert: x509.Certificate, tsa_key: Any,
                 chain: tuple[x509.Certificate, ...] = ()) -> None:
        super().__init__(
            tsa_cert=to_asn1_cert(tsa_cert),
            tsa_key=to_asn1_key(tsa_key),
            certs_to_embed=cert_store(chain),
        )

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        self.fixed_dt = datetime.now(UTC)  # TSTInfo genTime in UTC, whatever the host zone
        try:
            return super().request_tsa_response(req)
        finally:
            self.fixed_dt = None

    def respond(self, request_der: bytes) -> bytes:
        """Answer a DER ``TimeStampReq``; a malformed request gets a rejection, not an error."""
        try:
            req = tsp.TimeStampReq.load(request_der)
            req.native  # noqa: B018 - forces a full parse so bad input fails here
        except (ValueError, TypeError, OverflowError):
            status = tsp.PKIStatusInfo({"status": "rejection",
                                        "fail_info": tsp.PKIFailureInfo({"bad_data_format"})})
            # asn1crypto marks timeStampToken as required, RFC 3161 §2.4.2 does not: build
            # the one-field SEQUENCE by hand
            body: bytes = status.dump()  # asn1crypto is untyped: name what it returns
            return b"\x30" + _der_length(len(body)) + body
        answer: bytes = self.request_tsa_response(req).dump()
        return answer


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def respond(stamper: LocalTimeStamper, request_der: bytes) -> bytes:
    """Serve one RFC 3161 request with the local TSA (for mounting at ``/tsa``)."""
    return stamper.respond(request_der)


class HTTPTimeStamper(TimeStamper):
    """An external TSA reached over HTTP(S) (RFC 3161 §3.4), using only the standard library."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # unannotated in pyHanko
        self.url = url
        self.timeout = timeout

    def _post(self, body: bytes) -> bytes:
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": TSA_QUERY_TYPE, "Accept": TSA_REPLY_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310
                answer: bytes = resp.read()
                return answer
        except (urllib.error.URLError, OSError) as e:
            raise TimestampError(f"TSA at {self.url} unreachable: {e}") from e

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raw = await asyncio.to_thread(self._post, req.dump())
        try:
            return tsp.TimeStampResp.load(raw)
        except ValueError as e:
            raise TimestampError(f"TSA at {self.url} sent a malformed response") from e


def local_timestamper(tsa_cert: x509.Certificate, tsa_key: Any,
                      root: x509.Certificate) -> LocalTimeStamper:
    return LocalTimeStamper(tsa_cert, tsa_key, (root,))


def configured_timestamper(keystore: Any, url: str | None = None) -> TimeStamper:
    """The external TSA at ``url`` when configured, else the service's own."""
    if url:
        return HTTPTimeStamper(url)
    cert, key = keystore.tsa_identity()
    return local_timestamper(cert, key, keystore.root_cert())
