"""The runbook has one entry per failure anchor the tool emits; the status JSON doc names every field."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from backfill_orchestrator.reporting import status
from backfill_orchestrator.events import ANCHORS

ROOT = Path(__file__).resolve().parents[2]


def test_every_anchor_has_a_runbook_entry():
    text = (ROOT / "docs" / "runbook.md").read_text()
    sections = re.split(r'<a id="([a-z-]+)"></a>\n', text)[1:]
    entries = dict(zip(sections[0::2], sections[1::2]))
    assert set(ANCHORS.values()) == set(entries), set(ANCHORS.values()) ^ set(entries)
    for anchor, body in entries.items():
        heading = body.splitlines()[0]
        # the heading's own GitHub slug is the anchor too, so both kinds of link work
        assert re.sub(r"[^a-z0-9 -]", "", heading.lstrip("# ").lower()).replace(" ", "-") == anchor, heading
        for part in ("**What it means.**", "**How to look.**", "**The command that fixes it.**"):
            assert part in body, (anchor, part)
        assert "backfill " in body.split("**The command that fixes it.**")[1], anchor


def test_status_json_doc_names_every_field():
    doc = (ROOT / "docs" / "status-json.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)`", doc, flags=re.M))
    documented |= {n for row in re.findall(r"^\| (`[a-z_]+`(?: / `[a-z_]+`)+) \|", doc, flags=re.M)
                   for n in re.findall(r"`([a-z_]+)`", row)}
    for cls in (status.StatusRun, status.StatusPhase, status.ProgressView, status.StatusGate, status.StatusEvent,
                status.RepairView, status.RepairStepView):
        missing = {f.name for f in dataclasses.fields(cls)} - documented
        assert not missing, f"{cls.__name__}: fields not in docs/status-json.md: {missing}"
