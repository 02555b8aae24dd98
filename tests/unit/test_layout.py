"""The package's shape: each module imports only what it uses, and no two modules import each other.

The promise: docs/development.md, "Layout".
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import owner_webhook

PACKAGE = Path(owner_webhook.__file__).parent


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every module of the package and the package modules it imports (anywhere in it, functions too)."""
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
                found |= submodules or {node.module}  # `from package import module` imports the module
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycles() -> None:
    graph = imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None
    assert set(order) == set(graph)


def test_outcomes_and_errors_import_nothing_that_decides() -> None:
    graph = imports()
    assert graph["owner_webhook.outcomes"] == set()
    assert graph["owner_webhook.errors"] == {"owner_webhook.outcomes"}
    # The sources know requests and errors, not the settings or the delivery around them.
    for name, imported in graph.items():
        if name.startswith("owner_webhook.sources"):
            assert not imported & {"owner_webhook.settings", "owner_webhook.delivery", "owner_webhook.wiring"}, name
