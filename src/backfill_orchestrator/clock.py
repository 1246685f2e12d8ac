"""UTC time as the run files, logs and messages show it: one rule everywhere.

    utcnow()            aware datetime, UTC
    as_utc(t)           naive times are UTC (job logs, tests); aware ones are converted
    iso_utc(t=None)     `2026-01-03T14:35:00Z` (seconds, `Z`); None = now
    parse_iso(text)     the reverse (also takes `+00:00` offsets); None for None/""
    hm_duration(s)      `4h05m`, `9m00s` (plan ETAs, heartbeat ages)
"""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc) if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def iso_utc(t: dt.datetime | None = None) -> str:
    return as_utc(t or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def hm_duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"
