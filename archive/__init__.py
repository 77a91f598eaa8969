"""Write-once archive of sealed student-status documents (issue 5).

Content-addressed storage (:mod:`archive.store`), the index (:mod:`archive.index`), the use
cases (:mod:`archive.service`), the start-up check (:mod:`archive.recovery`), fixity
(:mod:`archive.fixity`, its trail read by :mod:`archive.fixity_trail`), transfer packages
(:mod:`archive.package`), backups (:mod:`archive.backup`, format in
:mod:`archive.backup_format`) and restore (:mod:`archive.restore`, comparing with
:mod:`archive.restore_index` and :mod:`archive.restore_trail`, reporting
:mod:`archive.restore_findings`). Never imports ``doc_service``; uses ``signing`` to read
chains and verify signatures.
"""
