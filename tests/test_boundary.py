"""The boundary that matters (DESIGN): the orchestrator knows nothing of basketball, and the NBA jobs use only
its generic building blocks (warehouse layer, dates, errors), never the orchestrator proper."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
JOBS_MAY_USE = ("backfill_orchestrator.warehouse", "backfill_orchestrator.dates", "backfill_orchestrator.errors",
                "backfill_orchestrator.yamlsource")


def _imports(package: str) -> list[tuple[str, str]]:
    out = []
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out += [(path.name, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append((path.name, node.module))
    return out


def test_orchestrator_never_imports_the_nba_jobs():
    assert [i for i in _imports("backfill_orchestrator") if i[1].split(".")[0] == "nba_pipeline"] == []


def test_nba_jobs_use_only_the_generic_building_blocks():
    used = [i for i in _imports("nba_pipeline") if i[1].startswith("backfill_orchestrator")]
    assert used, "the jobs are expected to use the warehouse layer"
    assert [i for i in used if not i[1].startswith(JOBS_MAY_USE)] == []
