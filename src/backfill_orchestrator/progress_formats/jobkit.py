"""The jobkit contract: `[jobkit] START|DATE|PROGRESS|FAILED|RETRY|COMPLETE key=value ...` lines."""
from __future__ import annotations

import datetime as dt
import re

from ..dates import date_range
from .base import _NUM, LineParser, _int, _parse_date, _parse_eta, _parse_rate

_KV = re.compile(r'(?<!\S)(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def _kv(text: str) -> dict[str, str]:
    return {k: (v[1:-1] if v.startswith('"') else v) for k, v in _KV.findall(text)}


class JobkitParser(LineParser):
    name = "jobkit"
    PREFIX = "[jobkit] "

    def detect(self, line: str) -> bool:
        return line.startswith(self.PREFIX)

    def _line(self, line: str, t: dt.datetime) -> bool:
        if not line.startswith(self.PREFIX):
            return False
        kind, _, rest = line[len(self.PREFIX):].partition(" ")
        if kind == "DATE":
            date_text, _, rest = rest.partition(" ")
            status, _, rest = rest.partition(" ")
            date = _parse_date(date_text)
            if date is None or status not in ("ok", "failed", "skipped"):
                return False
            kv = _kv(rest)
            records = kv.get("records", "")
            # a garbled number (two workers' writes interleaved) counts the date, not its records
            self._outcome(date, status, _int(records) if re.fullmatch(_NUM, records) else 0)
            if status == "failed":
                self._error(f"{date_text}: {kv.get('error', 'failed')}")
        elif kind == "PROGRESS":
            m = re.match(rf"({_NUM})/({_NUM})", rest)
            if m:
                self.stated["done"], self.total = _int(m.group(1)), _int(m.group(2))
            kv = _kv(rest)
            for k in ("ok", "failed", "skipped", "records"):
                if k in kv and kv[k].replace(",", "").isdigit():
                    self.stated[k] = _int(kv[k])
            if "rate" in kv:
                self.rate = _parse_rate(kv["rate"])
            if "eta" in kv:
                self.eta = _parse_eta(kv["eta"], t)
        elif kind == "START":
            self._reset()  # a log holding several runs reports the last one
            kv = _kv(rest)
            if re.fullmatch(_NUM, kv.get("dates", "")):
                self.total = _int(kv["dates"])
        elif kind == "FAILED":
            for m in re.finditer(r"(\d{4}-\d\d-\d\d)(?:\.\.(\d{4}-\d\d-\d\d))?", rest):
                a, b = _parse_date(m.group(1)), _parse_date(m.group(2) or m.group(1))
                if a and b:
                    self.stated_failed.update(date_range(a, b))
        elif kind == "RETRY":
            self.retry_command = rest.strip()
        elif kind == "COMPLETE":
            kv = _kv(rest)
            self.completed = True
            self.complete_status = kv.get("status")
            for src, dst in (("days", "total"), ("ok", "ok"), ("failed", "failed"), ("skipped", "skipped"),
                             ("records", "records")):
                if kv.get(src, "").replace(",", "").isdigit():
                    self.final[dst] = _int(kv[src])
            if {"ok", "failed", "skipped"} <= self.final.keys():
                self.final["done"] = self.final["ok"] + self.final["failed"] + self.final["skipped"]
        else:
            return False
        return True
