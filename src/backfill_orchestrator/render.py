"""Rendering shared by every command: result dataclasses -> JSON; TTY detection for rich vs plain output; a console
stream that survives the loss of its terminal."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Callable, TextIO


_SCALARS = frozenset({str, int, bool, type(None)})  # exact types already JSON (a str-Enum is not: its .value is)


@functools.cache
def _public_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, enums, dates, paths, sets and tuples -> plain JSON types (stable key order)."""
    # exact types first, scalars inline: a run's report holds ~10^5 values (coverage points), a gate result ~10^4
    t = type(obj)
    if t in _SCALARS:
        return obj
    if t is list or t is tuple:
        return [v if type(v) in _SCALARS else to_jsonable(v) for v in obj]
    if t is dict:
        return {str(k): v if type(v) in _SCALARS else to_jsonable(v) for k, v in obj.items()}
    if t is dt.date or t is dt.datetime:
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {name: to_jsonable(getattr(obj, name)) for name in _public_fields(t)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in obj]
        return sorted(items) if isinstance(obj, (set, frozenset)) else items
    if isinstance(obj, float) and obj != obj:  # NaN is not JSON
        return None
    return obj


def dumps(obj: Any) -> str:
    """`json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)`, byte for byte, in one pass and several times
    faster: given an indent the standard library encodes in pure Python through nested generators, and a run's
    report.json holds ~10^5 values."""
    out: list[str] = []
    _encode(obj, "\n", out)
    return "".join(out)


_encode_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses (its C version if built)


def _float(f: float) -> str:
    if f != f:
        return "null"  # to_jsonable's NaN -> None
    if math.isinf(f):
        return "Infinity" if f > 0 else "-Infinity"
    return float.__repr__(f)


# exact type -> its JSON text, for the values that are neither containers nor need to_jsonable's general rules
_LEAF: dict[type, Callable[[Any], str]] = {
    str: _encode_str, int: int.__repr__, float: _float, bool: lambda b: "true" if b else "false",
    type(None): lambda _: "null", dt.date: lambda d: f'"{d.isoformat()}"', dt.datetime: lambda d: f'"{d.isoformat()}"',
}


def _encode(o: Any, nl: str, out: list[str]) -> None:
    """Append the JSON of to_jsonable(o) to `out`; `nl`: newline + the current indent."""
    t = type(o)
    leaf = _LEAF.get(t)
    if leaf is not None:
        out.append(leaf(o))
        return
    if t is list or t is tuple:
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        if all(type(v) in _LEAF for v in o):  # one string for the lot (e.g. a coverage point: date, percent)
            out.append("[" + inner + ("," + inner).join([_LEAF[type(v)](v) for v in o]) + nl + "]")
            return
        sep, inner2 = "[" + inner, inner + "  "
        for v in o:
            tv = type(v)
            if (tv is tuple or tv is list) and v and all(type(x) in _LEAF for x in v):  # e.g. coverage points
                out.append(sep + "[" + inner2 + ("," + inner2).join([_LEAF[type(x)](x) for x in v]) + inner + "]")
            else:
                out.append(sep)
                _encode(v, inner, out)
            sep = "," + inner
        out.append(nl + "]")
        return
    if t is dict:
        items: Any = {str(k): v for k, v in o.items()}.items()  # 1 and "1": one key, as in to_jsonable
    elif dataclasses.is_dataclass(o) and not isinstance(o, type):
        items = ((name, getattr(o, name)) for name in _public_fields(t))
    else:  # enums, paths, sets, subclasses of the plain types, unknown types: to_jsonable's rules
        j = to_jsonable(o)
        if j is not o:
            _encode(j, nl, out)
        elif isinstance(o, str):
            out.append(_encode_str(o))
        elif isinstance(o, (int, float)) and not isinstance(o, bool):
            out.append(int.__repr__(o) if isinstance(o, int) else _float(o))
        else:
            raise TypeError(f"Object of type {t.__name__} is not JSON serializable")
        return
    inner = nl + "  "
    sep = "{" + inner
    for k, v in items:
        leaf = _LEAF.get(type(v))
        if leaf is not None:
            out.append(sep + _encode_str(k) + ": " + leaf(v))
        else:
            out.append(sep + _encode_str(k) + ": ")
            _encode(v, inner, out)
        sep = "," + inner
    out.append("{}" if sep == "{" + inner else nl + "}")  # "{}": no keys (json.dumps writes it so)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


class ConsoleStream:
    """A console stream (stdout of a foreground run) whose loss never ends the run.

    When the terminal goes away (an SSH session drops: EIO on every write; the reader of a pipe exits: EPIPE; a
    full disk under nohup.out: ENOSPC), the first failing write or flush drops the console: the descriptors that
    pointed at the lost file are pointed at /dev/null (so that nothing else writing there later, click's final
    lines or the interpreter's flush at exit, fails either), `on_lost` is told why once, and every later write is
    discarded. The run's own record is orchestrator.log, which is not written through here."""

    def __init__(self, stream: TextIO, on_lost: Callable[[str], None] | None = None):
        self._stream = stream
        self.on_lost = on_lost
        self.lost: str | None = None  # why the console was dropped

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                return self._stream.write(text)
            except (OSError, ValueError) as e:
                self._lose(e)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as e:
                self._lose(e)

    def isatty(self) -> bool:
        try:
            return self.lost is None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._stream.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ... as the real stream has them
        return getattr(self._stream, name)

    def _lose(self, e: Exception) -> None:
        self.lost = (f"{type(e).__name__}: {e.strerror or e}" if isinstance(e, OSError) else f"{type(e).__name__}: {e}")
        _detach(self._stream)
        if self.on_lost is not None:
            self.on_lost(self.lost)


def _detach(stream: TextIO) -> None:
    """Point every standard descriptor that refers to the same file as `stream` (a terminal is usually stdout and
    stderr both) at /dev/null; what is still buffered for the lost file is then written there, harmlessly."""
    try:
        lost = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for fd in (1, 2):
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (lost.st_dev, lost.st_ino):
                os.dup2(null, fd)
    finally:
        os.close(null)
