"""docs/validation.md must not fall behind the suite loader: every check type, every key a type accepts and
the defaults of the Check dataclass appear in the doc (keys as `key` in backticks, in that type's section)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from backfill_orchestrator.validation import suite as suite_mod
from backfill_orchestrator.validation.suite import CHECK_TYPES, METRICS, SEVERITIES, STATS, Check

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
# Check fields whose dataclass default is the YAML default of the key of the same name.
DEFAULTED = ("window", "drop_below", "tolerance", "sample_percent", "returns", "direction", "if_no_baseline")


def _sections() -> dict[str, str]:
    """Check type -> text of the `### ...` section whose heading names it in backticks."""
    out: dict[str, str] = {}
    parts = re.split(r"^### ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]
    for part in parts:
        heading, _, body = part.partition("\n")
        body = body.split("\n## ", 1)[0]  # a `##` heading ends the last type section
        for name in re.findall(r"`([a-z_]+)`", heading):
            if name in CHECK_TYPES:
                out[name] = body
    return out


def _row(section: str, key: str) -> str | None:
    return next((line for line in section.splitlines() if line.startswith(f"| `{key}` |")), None)


def _text(v: object) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def test_every_check_type_has_a_section() -> None:
    missing = sorted(set(CHECK_TYPES) - set(_sections()))
    assert not missing, f"docs/validation.md has no `### ` section for check types {missing}"


@pytest.mark.parametrize("kind", CHECK_TYPES)
def test_every_key_of_a_type_is_in_its_section(kind: str) -> None:
    section = _sections().get(kind, "")
    missing = sorted(k for k in suite_mod._KEYS[kind] if f"`{k}`" not in section)
    assert not missing, f"section of `{kind}` in docs/validation.md does not mention keys {missing}"


def test_every_key_of_a_type_has_a_table_row() -> None:
    sections = _sections()
    missing = [f"{kind}.{k}" for kind in CHECK_TYPES for k in sorted(suite_mod._KEYS[kind])
               if _row(sections.get(kind, ""), k) is None]
    assert not missing, f"no `| \\`key\\` | default | meaning |` row for {missing}"


def test_required_keys_are_marked_required() -> None:
    sections = _sections()
    wrong = [f"{kind}.{k}" for kind, keys in suite_mod._REQUIRED.items() for k in keys
             if "required" not in (_row(sections.get(kind, ""), k) or "")]
    assert not wrong, f"required keys not marked `required` in their row: {wrong}"


def test_defaults_match_the_check_dataclass() -> None:
    sections = _sections()
    fields = {f.name: f.default for f in dataclasses.fields(Check)}
    wrong = []
    for kind in CHECK_TYPES:
        for key in sorted(suite_mod._KEYS[kind] & set(DEFAULTED)):
            row = _row(sections.get(kind, ""), key) or ""
            default = row.split("|")[2] if row.count("|") >= 3 else ""
            if f"`{_text(fields[key])}" not in default:
                wrong.append(f"{kind}.{key} (code default {fields[key]!r}, doc {default.strip()!r})")
    assert not wrong, f"defaults in docs/validation.md differ from suite.Check: {wrong}"


def test_common_keys_and_choices_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = set(suite_mod._COMMON) | set(SEVERITIES) | set(STATS) | set(METRICS) | set(CHECK_TYPES)
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/validation.md does not mention {missing}"
