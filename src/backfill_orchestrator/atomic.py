"""Files written whole or not at all: a temp file beside the target, then a rename.

A reader (a person, `tail`, node-exporter's textfile collector) never sees half a file, and a path that
cannot be written is the user's to fix: one line naming it.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import UsageError


def write_text_atomic(path: str | Path, text: str, what: str = "the file") -> Path:
    """Write `text` to `path` (parents created). Raises UsageError `<path>: cannot write <what>: <why>`."""
    target = Path(path)
    # a dot-name temp: collectors that glob *.prom or *.txt never pick up a half-written file
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise UsageError(f"{target}: cannot write {what}: {_why(e)}") from None
    return target


def _why(e: OSError) -> str:
    # mkdir of a parent that exists as a file says "File exists", which reads like the target exists
    return "a parent is not a directory" if isinstance(e, FileExistsError) else e.strerror or str(e)
