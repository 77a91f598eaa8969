"""The service's own TSA answers RFC 3161 requests; bad requests get a rejection."""

from __future__ import annotations

import hashlib

from asn1crypto import core, tsp

from signing.tsa import respond


def test_local_tsa_grants_a_token_for_a_request(timestamper):
    _, req = timestamper.request_cms(hashlib.sha256(b"doc").digest(), "sha256")
    resp = tsp.TimeStampResp.load(respond(timestamper, req.dump()))
    assert resp["status"]["status"].native == "granted"
    tst_info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == hashlib.sha256(b"doc").digest()
    assert tst_info["nonce"].native == req["nonce"].native


def test_malformed_request_is_rejected_not_raised(timestamper):
    raw = respond(timestamper, b"\x30\x03garbage")
    # asn1crypto cannot load a token-less TimeStampResp; read its only field, the status
    outer = core.Sequence.load(raw)
    status = tsp.PKIStatusInfo.load(outer.contents)
    assert status["status"].native == "rejection"
