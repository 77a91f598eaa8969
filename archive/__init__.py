"""Write-once archive of sealed student-status documents (issue 5).

Never imports ``doc_service``; uses ``signing`` to read chains and verify signatures. The
parts, each imported from its own module or, for a subpackage, from its face::

    archive.store          content-addressed, crash-safe blob store (ContentStore)
    archive.index          the index tables (SQLAlchemy Core), write-once triggers, install()
    archive.model          records, files, signers, access entries (frozen dataclasses)
    archive.service        archive once, void, correct, find, read; the access log
    archive.recovery       the start-up check for what a crash left half-done
    archive.verification   a record's proof: fixity of its files and its signatures
    archive.fixity         re-hash every file; the write-once trail of runs (subpackage)
    archive.package        transfer packages: export, and check with no database (subpackage)
    archive.backup         backup and restore of the whole archive (subpackage)
    archive.wording        how people read the archive's findings and names, in Chinese
    archive.hashing        SHA-256 and SM3
    archive.errors         the error hierarchy (root: ArchiveError)
"""
