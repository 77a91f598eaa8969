"""The command groups of the ``doc-service`` CLI, and what every command shares.

Each submodule defines its commands and a ``register(cli)`` that ``doc_service.cli``
calls. A command gets its runtime from :func:`cli_runtime` (the composition root, with
the database migrated) and reports our own errors with :func:`fail`.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from doc_service.bootstrap import build_runtime
from doc_service.config import instance_path
from doc_service.errors import DocServiceError, ValidationError
from doc_service.services.runtime import Runtime


def cli_runtime() -> Runtime:
    """The instance's runtime, its database migrated to the latest revision."""
    return build_runtime(instance_path(), migrate=True)


def fail(error: DocServiceError, as_json: bool = False) -> NoReturn:
    """Print an error of our own hierarchy (its Chinese message, or JSON for programs) to
    stderr and exit: 2 for invalid input, 1 otherwise; no traceback."""
    if as_json:
        click.echo(json.dumps(error.to_dict(), ensure_ascii=False, indent=2), err=True)
    else:
        click.echo(f"错误：{error}", err=True)
    sys.exit(2 if isinstance(error, ValidationError) else 1)
