"""The import rules of STYLE.md, checked on the source: arrows point one way.

Every ``import`` counts, at module level or inside a function: an import moved into a function
to dodge a cycle at load time is still a cycle in the design.

- no two ``cs_app`` modules import each other, directly or round a longer loop;
- no module imports another feature's views (``cs_app.app`` registers the blueprints, so it
  may); a feature is a top-level package of ``cs_app``, or a package of ``cs_app.triggers``;
- ingestion does not reach the trigger rules: it sends ``cs_app.hooks.events_ingested``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "cs_app"
FEATURE_PACKAGES_WITH_SUBFEATURES = {"cs_app.triggers"}
ALLOWED_TO_IMPORT_VIEWS = {"cs_app.app"}


def module_files(source: Path = SOURCE) -> dict[str, Path]:
    modules = {}
    for path in source.rglob("*.py"):
        parts = list(path.relative_to(source.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the ``cs_app`` modules it imports (``from pkg import sub`` counts ``sub``)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                resolved = known(target) if target.startswith("cs_app") else None
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def feature_of(module: str) -> str:
    parts = module.split(".")
    for package in FEATURE_PACKAGES_WITH_SUBFEATURES:
        depth = package.count(".") + 1
        if module.startswith(package + ".") and len(parts) > depth + 1:
            return ".".join(parts[: depth + 1])
    return ".".join(parts[:2])


def is_views(module: str) -> bool:
    return module.rpartition(".")[2].endswith("views")


def cross_feature_view_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    return sorted(
        (module, imported)
        for module, imports in graph.items()
        for imported in imports
        if is_views(imported)
        and feature_of(imported) != feature_of(module)
        and module not in ALLOWED_TO_IMPORT_VIEWS
    )


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for other in graph.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


GRAPH = import_graph(module_files())


def test_the_checks_see_a_cycle_and_a_views_import():
    graph = {
        "cs_app.a.service": {"cs_app.b.service"},
        "cs_app.b.service": {"cs_app.c.models"},
        "cs_app.c.models": {"cs_app.a.service"},
        "cs_app.d.views": {"cs_app.e.views", "cs_app.d.service"},
        "cs_app.d.service": set(),
        "cs_app.e.views": set(),
    }
    assert cycles(graph) == [["cs_app.a.service", "cs_app.b.service", "cs_app.c.models"]]
    assert cross_feature_view_imports(graph) == [("cs_app.d.views", "cs_app.e.views")]
    assert feature_of("cs_app.triggers.pools.views") == "cs_app.triggers.pools"
    assert feature_of("cs_app.triggers.refs") == "cs_app.triggers"


def test_the_graph_sees_imports_inside_functions():
    assert "cs_app.app" in GRAPH["cs_app"]  # create_app imports it when called


def test_no_import_cycle_among_cs_app_modules():
    assert cycles(GRAPH) == []


def test_no_module_imports_another_features_views():
    assert cross_feature_view_imports(GRAPH) == []


def test_ingestion_does_not_reach_the_trigger_rules():
    for start in ("cs_app.accounts.ingest", "cs_app.imports.importers"):
        reached = reachable(GRAPH, start)
        assert not {m for m in reached if m.startswith("cs_app.triggers")}, start
