"""The reporting package has no import cycle (lazy imports inside functions count too): the view is imported by
every renderer, and renderers never import each other."""
from __future__ import annotations

import ast
from pathlib import Path

import backfill_orchestrator

PKG = Path(backfill_orchestrator.__file__).resolve().parent
RENDERERS = {"status", "report_md", "report_html", "metrics"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package `path` imports, wherever in the file (top level or inside a function)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            candidates = [target] + [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        out.update(c for c in candidates if c in modules and c != name)
    return out


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    return {name: _imports(path, set(files)) for name, path in files.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_import_cycle_through_the_reporting_package():
    graph = _graph()
    reporting = sorted(m for m in graph if m.startswith("backfill_orchestrator.reporting"))
    assert "backfill_orchestrator.reporting.view" in reporting
    for module in reporting + ["backfill_orchestrator.runlog", "backfill_orchestrator.redact"]:
        assert _cycle_through(graph, module) is None, " -> ".join(_cycle_through(graph, module))


def test_renderers_read_the_view_and_never_each_other():
    graph = _graph()
    full = {r: f"backfill_orchestrator.reporting.{r}" for r in RENDERERS}
    for r, name in full.items():
        assert "backfill_orchestrator.reporting.view" in graph[name], r
        assert not graph[name] & (set(full.values()) - {name}), (r, graph[name])
