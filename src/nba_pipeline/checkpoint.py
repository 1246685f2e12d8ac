"""The job kit's checkpoint: the SETS of dates done, failed and skipped, in one JSON file.

Written atomically (temp file, fsync, rename) after every date, so a killed job leaves either the previous
or the new state, never half a file. Resume re-runs every date that is not done or skipped, earlier
failures included; it never resumes "from the high-water mark".
"""
from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from backfill_orchestrator.dates import CHECKPOINT_READ_ERRORS, read_checkpoint_file
from backfill_orchestrator.dates import CHECKPOINT_STATUSES as STATUSES
from backfill_orchestrator.errors import UsageError


@dataclass
class Checkpoint:
    path: Path
    job: str
    done: set[dt.date] = field(default_factory=set)
    failed: set[dt.date] = field(default_factory=set)
    skipped: set[dt.date] = field(default_factory=set)

    @classmethod
    def load(cls, path: str | Path, job: str) -> "Checkpoint":
        """Read `path` if it exists (else an empty checkpoint). A corrupt file or another job's is a usage error."""
        p = Path(path)
        cp = cls(p, job)
        if not p.exists():
            return cp
        try:
            owner, sets = read_checkpoint_file(p)
        except CHECKPOINT_READ_ERRORS as e:
            raise UsageError(f"{p}: unreadable checkpoint ({type(e).__name__}: {e}); delete it or pass --no-resume")
        if owner != job:
            raise UsageError(f"{p}: checkpoint belongs to job {owner!r}, not {job!r}")
        for status in STATUSES:
            getattr(cp, status).update(sets[status])
        return cp

    def record(self, d: dt.date, status: str) -> None:
        """status: ok | failed | skipped (ok is stored as done). A date is in exactly one set."""
        for s in STATUSES:
            getattr(self, s).discard(d)
        getattr(self, "done" if status == "ok" else status).add(d)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": 1, "job": self.job,
                "updated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                **{s: sorted(d.isoformat() for d in getattr(self, s)) for s in STATUSES}}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(body, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
