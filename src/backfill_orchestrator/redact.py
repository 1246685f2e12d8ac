"""Secrets never reach a log or a report: URLs keep scheme and host, lose credentials, path and query."""
from __future__ import annotations

import re
from typing import Iterable

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>]*)([^\s'\"<>]*)")


def redact_url(url: str) -> str:
    """`slack://T000/B000/XXXX` -> `slack://***`; `json://user:pw@127.0.0.1:8080/hook?t=1` -> `json://127.0.0.1:8080/***`."""
    m = _URL.fullmatch(url.strip())
    if not m:
        return "***"
    return _mask(m)


def _mask(m: re.Match[str]) -> str:
    scheme, netloc, rest = m.group(1), m.group(2), m.group(3)
    host = netloc.rpartition("@")[2]
    # Host-less schemes (slack://, discord://, tgram://) carry tokens where a host would be.
    if "." not in host and not host.startswith("127.") and host != "localhost" and ":" not in host:
        return f"{scheme}://***"
    return f"{scheme}://{host}" + ("/***" if rest.strip("/") else "")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every URL in `text`, and every literal secret given (e.g. the configured notification URLs)."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, redact_url(s))
    return _URL.sub(_mask, text)
