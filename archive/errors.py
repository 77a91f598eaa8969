"""Errors raised by the ``archive`` package: one root, one branch per concern.

Hierarchy::

    ArchiveError                      root; catch this to handle anything from ``archive``
    ├── StoreError                    the content store cannot read or write a blob
    │   ├── BlobNotFoundError         no blob with that SHA-256
    │   └── BlobCorruptError          a blob's bytes no longer match its name
    ├── ArchiveIndexError             the index database failed (wraps SQLAlchemy errors)
    ├── ArchiveInputError             what the caller asked to archive is inconsistent
    ├── ArchiveConflictError          (document, version) is archived with other content
    ├── RecordNotFoundError           no archive record with that id / 档号
    ├── RecordStateError              the record cannot take that step (void a void ...)
    ├── FixityInterruptedError        a fixity run failed after its start was recorded
    └── PackageError                  a transfer package or backup cannot be written or read
                                      (a failed check is a report, not an exception)

Third-party failures (OSError, SQLAlchemy, zipfile) are wrapped with ``raise ... from e`` so
callers only ever see these. A fixity or package *finding* is never an exception: it is in
the report the check returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # archive.fixity imports these errors: at run time this would be a cycle
    from .fixity import FixityRun


class ArchiveError(Exception):
    """Root of every error raised by the ``archive`` package."""


class StoreError(ArchiveError):
    """The content store could not read or write a blob."""


class BlobNotFoundError(StoreError):
    """No blob with that SHA-256 is in the store."""


class BlobCorruptError(StoreError):
    """A stored blob's bytes do not hash to its name."""


class ArchiveIndexError(ArchiveError):
    """The index database failed; the SQLAlchemy error is the ``__cause__``."""


class ArchiveInputError(ArchiveError):
    """The input to archive is inconsistent (chain for another document, empty PDF ...)."""


class ArchiveConflictError(ArchiveError):
    """The (document, version) is already archived with different content."""


class RecordNotFoundError(ArchiveError):
    """No archive record with that id or archival reference."""


class RecordStateError(ArchiveError):
    """The record cannot take this step (voiding a void record, voiding twice ...)."""


class FixityInterruptedError(ArchiveError):
    """A fixity run failed after its start was recorded; the original error is the cause.

    The trail shows the run as unfinished (its start, no end): ``run`` is that run, so the
    caller can name it to whoever has to look into the failure.
    """

    def __init__(self, message: str, run: FixityRun) -> None:
        super().__init__(message)
        self.run = run


class PackageError(ArchiveError):
    """A transfer package or backup could not be written, or is not one at all."""
