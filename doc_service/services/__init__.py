"""Use cases of the service: one function per thing a person does.

Each takes the :class:`~doc_service.services.runtime.Runtime` (its adapters),
the acting person and plain arguments; it authorizes, calls the domain
(``signing``'s approval chain), stores, audits, and returns. Views and CLI
commands only parse, call one of these, and shape the answer.
"""
