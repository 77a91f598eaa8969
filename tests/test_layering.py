"""The layering the design fixes: the core packages never reach into the application, the
services never reach up into their entry points, and ``doc_service`` has no import cycle.

The import graph is computed from the source (every ``import``, at any depth, function-local
ones included), never listed by hand.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


# --- the import graph of doc_service ---------------------------------------------------

def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root``, by dotted name (a package by its own)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported_names(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The dotted names each import statement of ``module`` loads, relative ones resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                # ``from pkg import sub`` loads the submodule; ``from mod import name`` the module.
                sub = f"{base}.{alias.name}"
                yield sub if sub in known else base


def import_graph(root: Path = ROOT, package: str = "doc_service") -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports.

    Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so an import from
    outside a package is an edge to that package too; from inside, the package is already
    being imported and that edge would be no cycle."""
    known = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        edges: set[str] = set()
        for name in _imported_names(module, path, known):
            while name and name not in known:  # ``mod.attr`` → ``mod``
                name = name.rpartition(".")[0]
            if not name:
                continue
            edges.add(name)
            parts = name.split(".")
            edges |= {p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                      if p in known and not module.startswith(p + ".") and p != module}
        edges.discard(module)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def cycle_paths(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """Each module of a cycle with the modules of the cycle it imports (for the message)."""
    members = set(component)
    return [f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component]


GRAPH = import_graph()
SERVICES = sorted(m for m in GRAPH if m.startswith("doc_service.services."))
ENTRY_POINTS = ("doc_service.web", "doc_service.commands", "doc_service.cli",
                "doc_service.bootstrap")


def test_the_graph_sees_function_local_and_relative_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub.b import g\n")
    (pkg / "sub" / "b.py").write_text("from ..a import f\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub", "pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"} and graph["pkg.sub"] == {"pkg.sub.b"}
    assert import_cycles(graph) == [["pkg.a", "pkg.sub", "pkg.sub.b"]]


def test_the_graph_covers_the_services_and_their_entry_points() -> None:
    assert "doc_service.services.runtime" in SERVICES and len(SERVICES) > 10
    assert "doc_service.bootstrap" in GRAPH["doc_service.web"]
    assert "doc_service.services.batch" in GRAPH["doc_service.bootstrap"]


@pytest.mark.parametrize("service", SERVICES)
def test_services_never_import_their_entry_points(service: str) -> None:
    upward = sorted(m for m in GRAPH[service]
                    if any(m == e or m.startswith(e + ".") for e in ENTRY_POINTS))
    assert upward == [], f"{service} imports {upward}"


def test_runtime_imports_no_other_service() -> None:
    services = sorted(m for m in GRAPH["doc_service.services.runtime"]
                      if m.startswith("doc_service.services."))
    assert services == []


def test_doc_service_has_no_import_cycle() -> None:
    cycles = import_cycles(GRAPH)
    assert cycles == [], "\n".join(line for c in cycles for line in cycle_paths(GRAPH, c))


def test_views_and_commands_run_no_queries_of_their_own() -> None:
    """Views and commands parse, call a use case and shape the answer: queries live in
    services."""
    offenders: dict[str, list[str]] = {}
    paths = [*(ROOT / "doc_service" / "commands").rglob("*.py"), ROOT / "doc_service" / "cli.py",
             *(ROOT / "doc_service" / "web").rglob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                names = [a.name for a in node.names if a.name not in {"Engine"}]
                if names:
                    offenders.setdefault(str(path.relative_to(ROOT)), []).extend(names)
    assert offenders == {}
