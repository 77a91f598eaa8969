"""The archive's subpackages show what they offer in ``__all__``, and callers take it from
there: nothing outside a subpackage reaches into its modules, and the old flat modules (and
their re-exports) are gone."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FACES = ("archive.backup", "archive.fixity", "archive.package")


@pytest.mark.parametrize("face", FACES)
def test_a_face_lists_what_it_offers(face: str) -> None:
    module = importlib.import_module(face)
    offered = module.__all__
    assert len(offered) == len(set(offered))
    assert [name for name in offered if not hasattr(module, name)] == []


@pytest.mark.parametrize("old", ["archive.restore", "archive.restore_findings",
                                 "archive.restore_index", "archive.restore_trail",
                                 "archive.backup_format", "archive.fixity_trail"])
def test_the_flat_modules_are_gone(old: str) -> None:
    # by file, not find_spec: an editable install of another checkout would answer for it
    assert not (ROOT / f"{old.replace('.', '/')}.py").exists()


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}
    return found


def is_module(name: str) -> bool:
    """``name`` is a module of this tree (not a name imported from one)."""
    path = ROOT / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def test_callers_import_from_the_face() -> None:
    offenders = {}
    for folder in ("archive", "doc_service", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            inside = ".".join(path.relative_to(ROOT).parts[:2])
            reached = {m for m in imports_of(path) for face in FACES
                       if m.startswith(f"{face}.") and inside != face and is_module(m)}
            if reached:
                offenders[str(path.relative_to(ROOT))] = sorted(reached)
    assert offenders == {}
