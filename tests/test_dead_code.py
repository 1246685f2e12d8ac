"""No dead code in src/: vulture over the package with a small, reviewed whitelist (tests/vulture_whitelist.py)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHITELIST = Path(__file__).with_name("vulture_whitelist.py")
# click registers commands by decorator and the CLI looks them up by name (cli/__init__.py COMMAND_MODULES)
IGNORE_DECORATORS = "@click.command,@click.group,@*.command"
FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): unused (?P<what>.+?) '(?P<name>[^']+)'")


@lru_cache(maxsize=None)
def _enum_member_lines(path: str) -> frozenset[int]:
    """Lines that define members of an Enum class: their values are read back from storage
    (`PhaseStatus(row.status)`), so a member never named in code is still used."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    lines = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if any("Enum" in ast.unparse(b) for b in cls.bases):
            lines |= {s.lineno for s in cls.body if isinstance(s, (ast.Assign, ast.AnnAssign))}
    return frozenset(lines)


def test_src_has_no_unused_code() -> None:
    p = subprocess.run([sys.executable, "-m", "vulture", "src", str(WHITELIST), "--min-confidence", "60",
                        "--ignore-decorators", IGNORE_DECORATORS], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode in (0, 3), f"vulture failed (exit {p.returncode}): {p.stderr or p.stdout}"
    dead = []
    for line in p.stdout.splitlines():
        m = FINDING.match(line)
        assert m, f"unexpected vulture output: {line!r}"
        if int(m["line"]) not in _enum_member_lines(str(ROOT / m["file"])):
            dead.append(line)
    assert not dead, ("unused code (remove it, or add it to tests/vulture_whitelist.py with the reason it is "
                      "used):\n" + "\n".join(dead))
