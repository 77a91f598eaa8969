"""The layering the design fixes: the core packages never reach into the application."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package", ["signing", "archive"])
def test_core_packages_never_import_the_application(package: str) -> None:
    offenders = {f: sorted(n for n in names if n.split(".")[0] == "doc_service")
                 for f, names in imported_modules(package).items()}
    assert {f: n for f, n in offenders.items() if n} == {}


def test_approval_and_hash_chain_core_is_pure() -> None:
    allowed_roots = {"__future__", "hashlib", "collections", "dataclasses", "datetime", "enum",
                     "typing", "cryptography", "base64", "binascii", "json", "signing"}
    for module in ("signing/chain.py", "signing/records.py", "signing/errors.py"):
        names = imported_modules("signing")[module]
        assert {n.split(".")[0] for n in names} <= allowed_roots, (module, names)
