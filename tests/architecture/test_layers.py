"""The layers import one way, and no module imports itself back through others.

The rule the codebase is built on (docs/architecture.md): `core/` at the bottom, then the areas,
then the apps that decide, then the pages, and the project's wiring (`geoapp/`) on top. A lower
layer tells a higher one what happened through signals or the outbox, never by importing it.
These tests read every module's imports (at the top and inside functions) with `ast`, so a new
upward import or a new circle fails here with the modules named.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first; a module may import its own app and the apps listed before it.
LAYERS = ["core", "kecamatan_boundaries", "incidents", "tracking", "dispatch", "planning", "console", "geoapp"]
SAME_LEVEL = {frozenset({"planning", "console"})}  # neither imports the other


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _in_function(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    inside.add(id(node))
    return inside


def project_imports() -> list[tuple[str, str, Path, int, bool]]:
    """(importer, imported, file, line, inside a function) for every first-party import of the apps."""
    found = []
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = _module_name(path)
            tree = ast.parse(path.read_text(), str(path))
            inside = _in_function(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(node, module, path.name == "__init__.py")
                    # `from pkg import mod` imports the module pkg.mod when there is one
                    targets = [
                        f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base for alias in node.names
                    ]
                else:
                    continue
                for target in targets:
                    if target.split(".")[0] in LAYERS:
                        found.append((module, target, path, node.lineno, id(node) in inside))
    return found


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _allowed(importer: str, imported: str) -> bool:
    a, b = importer.split(".")[0], imported.split(".")[0]
    if a == b:
        return True
    if frozenset({a, b}) in SAME_LEVEL:
        return False
    return LAYERS.index(b) < LAYERS.index(a)


def test_layers_import_downward_only():
    upward = sorted(
        f"{path.relative_to(ROOT)}:{line} {importer} imports {imported}"
        for importer, imported, path, line, _ in project_imports()
        if not _allowed(importer, imported)
    )
    assert upward == [], "imports against the layers:\n" + "\n".join(upward)


def test_no_import_circles():
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported, *_ in project_imports():
        if importer != imported and not imported.startswith(importer + "."):
            graph[importer].add(imported)
    circles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert circles == [], "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_function_local_imports_say_why():
    """An import inside a function is there because a library forces it (Django's AppConfig.ready,
    a model not loaded yet); its line says so in a comment. Anything else goes at the top."""
    unexplained = []
    for _importer, _imported, path, line, inside in project_imports():
        if not inside or path.name == "apps.py":
            continue
        text = path.read_text().splitlines()[line - 1]
        reason = re.sub(r"noqa(: ?[A-Z0-9, ]+)?", "", text.partition("#")[2]).strip(" -:")
        if not reason:
            unexplained.append(f"{path.relative_to(ROOT)}:{line} {text.strip()}")
    assert sorted(set(unexplained)) == [], "function-local imports without a reason:\n" + "\n".join(
        sorted(set(unexplained))
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively (the graph is a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {m for targets in graph.values() for m in targets}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result
