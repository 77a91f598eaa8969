"""The batch pages run on the batch tests' school (a roster-imported grade, not the demo
data of the other web tests): the same session fixtures as ``tests/services/batch``."""

from __future__ import annotations

from tests.services.batch.conftest import db_url, registrar, runtime  # noqa: F401 - fixtures
