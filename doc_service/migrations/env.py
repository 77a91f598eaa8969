"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context

import doc_service.numbering  # noqa: F401 - registers its table on the metadata
import doc_service.storage.batch_models  # noqa: F401 - registers the batch tables
import doc_service.storage.models  # noqa: F401 - registers the ORM tables
from archive.index import metadata as archive_metadata
from doc_service.db import metadata

# The archive's index lives in its own package, with a metadata of its own.
target_metadata = [metadata, archive_metadata]


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        context.run_migrations()


run_migrations_online()
