"""The package's import graph has no cycles: every `import` and `from ... import` counts, at module level or inside
a function (a lazy import back is still a cycle, only hidden)."""
from __future__ import annotations

import ast
from pathlib import Path

import backfill_orchestrator

PKG = Path(backfill_orchestrator.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        base = name.split(".") if f.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                prefix = base[:len(base) - node.level + 1] if node.level else []
                target = ".".join(prefix + ([node.module] if node.module else []))
                # `from . import checks` depends on the module checks, not on the package's __init__
                subs = {f"{target}.{a.name}" for a in node.names} & mods.keys()
                deps |= subs or ({target} & mods.keys())
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names} & mods.keys()
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_package_has_no_import_cycles() -> None:
    graph = import_graph()
    assert "backfill_orchestrator.phase_runner" in graph["backfill_orchestrator.orchestrator"]
    found = cycles(graph)
    assert found == []


def test_the_phase_runner_does_not_know_the_orchestrator() -> None:
    graph = import_graph()
    for module in ("phase_runner", "gates", "commands", "runcontext", "decisions"):
        assert "backfill_orchestrator.orchestrator" not in graph[f"backfill_orchestrator.{module}"], module
