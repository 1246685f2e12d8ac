"""The users' legacy jobs (day-by-day and parallel): `%(asctime)s - LEVEL - ` lines and their summary blocks."""
from __future__ import annotations

import datetime as dt
import re

from .base import _NUM, LineParser, _int, _parse_date, _parse_eta, _parse_rate

_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))? - ([A-Z]+) - (.*)$")
_SEQ = {
    "day": re.compile(rf"^Processing (?:day|date) ({_NUM})/({_NUM})(?::?\s*\(?(\d{{4}}-\d\d-\d\d))?"),
    "success": re.compile(rf"^\s*✓ Success: ({_NUM}) records(?: from ({_NUM}) games)?"),
    "failed": re.compile(r"^\s*✗ Failed: (\d{4}-\d\d-\d\d)"),
    "exception": re.compile(r"^\s*✗ Exception: (.*)$"),
    "progress": re.compile(rf"^Progress: ({_NUM})/({_NUM}) days \(([\d.]+)% success\), ({_NUM}) total records"),
    "summary": re.compile(r"^DAY-BY-DAY BACKFILL SUMMARY:?\s*$"),
}
_PAR = {
    "ok": re.compile(rf"^\s*✓ (\d{{4}}-\d\d-\d\d): ({_NUM}) records"),
    "failed": re.compile(r"^\s*✗ (\d{4}-\d\d-\d\d): (.*)$"),
    "progress": re.compile(rf"^PROGRESS: ({_NUM})/({_NUM}) days"),
    "summary": re.compile(r"^PARALLEL BACKFILL COMPLETE\s*$"),
}
_KEYVAL = re.compile(r"^\s+([A-Za-z][A-Za-z ]*?):\s+(.*?)\s*$")
# `  Key: value` lines mean something only inside the block whose header came last
_BLOCK_KEYS = {
    "seq-summary": {"Total days": "total", "Successful days": "ok", "Failed days": "failed",
                    "Total records processed": "records", "Skipped days": "skipped"},
    "par-progress": {"Success": "ok", "Successful": "ok", "Failed": "failed", "Records": "records",
                     "Skipped": "skipped"},
    "par-summary": {"Successful": "ok", "Success": "ok", "Failed": "failed", "Total records": "records",
                    "Records": "records", "Skipped": "skipped", "Total days": "total", "Total": "total"},
}


class LegacyParser(LineParser):
    """Both legacy variants; `variant` fixes the reported name, None = follow the lines seen."""

    def __init__(self, variant: str | None = None) -> None:
        super().__init__()
        self._fixed = variant
        self.name = variant or "legacy-sequential"
        self._current: dt.date | None = None
        self._block: str | None = None

    def detect(self, line: str) -> bool:
        m = _PREFIX.match(line)
        if not m:
            return False
        msg = m.group(4)
        return any(r.search(msg) for r in (*_SEQ.values(), *_PAR.values()))

    def _line_time(self, line: str) -> dt.datetime | None:
        m = _PREFIX.match(line)
        if not m:
            return None
        try:
            t = dt.datetime.fromisoformat(m.group(1).replace(" ", "T"))
        except ValueError:
            return None
        if m.group(2):
            t = t.replace(microsecond=int(m.group(2).ljust(6, "0")))
        return t.astimezone(dt.timezone.utc)  # logging's asctime is local time

    def _variant(self, name: str) -> None:
        if self._fixed is None:
            self.name = name

    def _line(self, line: str, t: dt.datetime) -> bool:
        m = _PREFIX.match(line)
        if not m:
            return False
        msg = m.group(4)
        if (r := _SEQ["day"].match(msg)):
            i, n = _int(r.group(1)), _int(r.group(2))
            self.total = n
            self.stated["done"] = max(self.stated.get("done", 0), i - 1)
            self._current = _parse_date(r.group(3)) if r.group(3) else None
            if msg.startswith("Processing day"):
                self._variant("legacy-sequential")
        elif (r := _SEQ["success"].match(msg)):
            self._outcome(self._current, "ok", _int(r.group(1)))
            self._variant("legacy-sequential")
        elif (r := _SEQ["failed"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "failed")
            self._error(f"{r.group(1)}: failed")
            self._variant("legacy-sequential")
        elif (r := _SEQ["exception"].match(msg)):
            # the day being processed failed (counted once, whether or not a `✗ Failed` line follows)
            self._outcome(self._current, "failed")
            self._error(f"{self._current or '?'}: {r.group(1)}")
            self._variant("legacy-sequential")
        elif (r := _SEQ["progress"].match(msg)):
            self.stated["done"], self.total = _int(r.group(1)), _int(r.group(2))
            self.stated["records"] = _int(r.group(4))
            self._variant("legacy-sequential")
        elif _SEQ["summary"].match(msg):
            self._block, self.completed = "seq-summary", True
            self._variant("legacy-sequential")
        elif (r := _PAR["ok"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "ok", _int(r.group(2)))
            self._variant("legacy-parallel")
        elif (r := _PAR["failed"].match(msg)):
            self._outcome(_parse_date(r.group(1)), "failed")
            self._error(f"{r.group(1)}: {r.group(2)}")
            self._variant("legacy-parallel")
        elif (r := _PAR["progress"].match(msg)):
            self.stated["done"], self.total = _int(r.group(1)), _int(r.group(2))
            self._block = "par-progress"
            self._variant("legacy-parallel")
        elif _PAR["summary"].match(msg):
            self._block, self.completed = "par-summary", True
            self._variant("legacy-parallel")
        elif (r := _KEYVAL.match(msg)) and self._block:
            return self._block_line(r.group(1), r.group(2), t)
        else:
            return False
        return True

    def _block_line(self, key: str, value: str, t: dt.datetime) -> bool:
        if self._block == "par-progress" and key == "Rate":
            self.rate = _parse_rate(value)
            return True
        if self._block == "par-progress" and key == "ETA":
            self.eta = _parse_eta(value, t)
            return True
        dest = _BLOCK_KEYS[self._block].get(key)
        if dest is None or not re.fullmatch(_NUM, value):
            return False
        target = self.final if self._block.endswith("summary") else self.stated
        target[dest] = _int(value)
        if self._block.endswith("summary"):
            if dest == "total":
                self.final["done"] = self.final["total"]
            elif {"ok", "failed"} <= self.final.keys() and "total" not in self.final:
                self.final["done"] = self.final["ok"] + self.final["failed"] + self.final.get("skipped", 0)
        return True
