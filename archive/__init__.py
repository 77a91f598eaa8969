"""Write-once archive of sealed student-status documents (issue 5).

Content-addressed storage (:mod:`archive.store`), the index (:mod:`archive.index`), the use
cases (:mod:`archive.service`), the start-up check (:mod:`archive.recovery`), fixity
(:mod:`archive.fixity`), transfer packages and backups (:mod:`archive.package`). Never
imports ``doc_service``; uses ``signing`` to read chains and verify signatures.
"""
