"""Errors raised by the ``signing`` package: one root, one branch per concern.

Hierarchy::

    SigningError                      root; catch this to handle anything from ``signing``
    ├── ChainError                    approval-chain rule broken
    │   ├── ChainOrderError           wrong signer/role for the next step
    │   ├── ChainClosedError          a decision after the chain ended (rejected/completed/voided)
    │   └── DuplicateDecisionError    the same step signed twice
    ├── RecordError                   a chain record cannot be parsed or built
    ├── KeyStoreError                 key material missing, unreadable or wrong passphrase
    ├── SealImageError                the seal image cannot be drawn (font missing ...)
    ├── TimestampError                the time-stamping authority failed
    ├── PdfSignError                  a PDF could not be signed or sealed
    └── VerificationError             a PDF cannot even be read for verification
                                      (a failed check is a report, not an exception)

Third-party failures are wrapped with ``raise ... from e`` so callers only ever see these.
"""

from __future__ import annotations


class SigningError(Exception):
    """Root of every error raised by the ``signing`` package."""


class ChainError(SigningError):
    """An approval-chain rule was broken."""


class ChainOrderError(ChainError):
    """The decision does not belong to the next step (wrong role or person)."""


class ChainClosedError(ChainError):
    """The chain has ended (rejected, completed or voided); nothing more can be signed."""


class DuplicateDecisionError(ChainError):
    """The step (or the signer) has already decided."""


class RecordError(SigningError):
    """A chain record is malformed or cannot be signed."""


class KeyStoreError(SigningError):
    """Key material is missing, unreadable, or the passphrase is wrong."""


class SealImageError(SigningError):
    """The seal image cannot be drawn."""


class TimestampError(SigningError):
    """The time-stamping authority did not answer with a usable token."""


class PdfSignError(SigningError):
    """A PDF could not be signed, embedded into, or sealed."""


class VerificationError(SigningError):
    """A PDF could not be read at all; ordinary check failures go in the report instead."""
