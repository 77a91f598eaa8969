"""Hash-chained approvals, the institution's PKI, and PAdES signatures on documents.

Never imports ``doc_service``. Entry points for the application:

- :class:`signing.chain.ApprovalChain`, :func:`signing.chain.verify_chain` — the pure core;
  each decision returns a :class:`signing.chain.Transition` (record, new state, next step)
- :class:`signing.box.SignatureBox` — where a signature goes on the page
- :data:`signing.roles.ROLE_LABELS` — every role's Chinese label
- :class:`signing.keystore.KeyStore` — root CA, seals, TSA, per-signer keys
- :func:`signing.steps.record_and_sign` — one decision: record + signed PDF revision
- :func:`signing.pdf_sign.sign_step`, :func:`signing.pdf_sign.seal_document` — PDF adapters
- :func:`signing.verify.verify_pdf` — the full verification report
- :func:`signing.tsa.configured_timestamper`, :func:`signing.tsa.respond` — RFC 3161
"""
