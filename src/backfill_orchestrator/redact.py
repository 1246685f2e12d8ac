"""Secrets never reach a log or a report: URLs keep scheme and host, lose credentials, path and query."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^\s/?#'\"<>]*)([^\s'\"<>]*)")
# `mailto:user:password@host` (no `//`): everything after the scheme may be a credential
_MAILTO = re.compile(r"\b(mailtos?):(?!//)[^\s'\"<>]*@[^\s'\"<>]*", re.IGNORECASE)
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]*\]|[^:\[\]]*)(?::\d*)?")


def redact_url(url: str) -> str:
    """`slack://T000/B000/XXXX` -> `slack://***`; `json://user:pw@127.0.0.1:8080/hook?t=1` -> `json://127.0.0.1:8080/***`."""
    m = _URL.fullmatch(url.strip())
    if not m:
        return "***"
    return _mask(m)


def _mask(m: re.Match[str]) -> str:
    scheme, netloc, rest = m.group(1), m.group(2), m.group(3)
    host = netloc.rpartition("@")[2]
    # Host-less schemes (slack://, discord://, tgram://) carry tokens where a host would be; a "port" that is not
    # a number (tgram://123456789:AAH-token/chat) is a token too.
    if not _HOST.fullmatch(host) or ("." not in host and not host.startswith(("127.", "["))
                                     and host.partition(":")[0] != "localhost"):
        return f"{scheme}://***"
    return f"{scheme}://{host}" + ("/***" if rest.strip("/") else "")


def _secret_parts(url: str) -> list[str]:
    """The pieces of a configured URL that are credentials on their own: libraries log them without the URL
    around them (urllib3: `"POST /services/T0/B0/XXXX HTTP/1.1"`, requests: `Max retries exceeded with url:
    /api/webhooks/ID/TOKEN`). Userinfo always; path segments, query values and a host-less netloc when they look
    like tokens (long, or holding a digit), so that words such as `hooks` or `services` stay readable."""
    m = _URL.fullmatch(url.strip())
    if not m:
        return []
    netloc, rest = m.group(2), m.group(3)
    userinfo, _, host = netloc.rpartition("@")
    parts = [p for p in re.split(r"[:@]", userinfo) if len(p) >= 3]
    pieces = re.split(r"[/?#&=;,]", rest)
    if _mask(m).endswith("://***"):  # the "host" is a token
        pieces += host.split(":")
    parts += [p for p in pieces if len(p) >= 12 or (len(p) >= 4 and any(c.isdigit() for c in p))]
    if rest.strip("/"):
        parts.append(rest.split("?", 1)[0].split("#", 1)[0])  # the whole path, e.g. /hooks/abc
    return [p for p in parts if len(p) >= 3 and p.strip("/")]


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask every URL in `text`, and every literal secret given (e.g. the configured notification URLs)."""
    secrets = [s for s in secrets if s]
    for s in sorted(secrets, key=len, reverse=True):
        text = text.replace(s, redact_url(s))
    text = _URL.sub(_mask, text)
    text = _MAILTO.sub(lambda m: f"{m.group(1)}:***", text)
    for part in sorted({p for s in secrets for p in _secret_parts(s)}, key=len, reverse=True):
        text = text.replace(part, "***")
    return text


# env names whose values are credentials (API_TOKEN, DB_PASSWORD, SLACK_WEBHOOK, GOOGLE_CREDENTIALS, ...)
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|PWD|KEY|AUTH|CRED|HOOK|DSN|COOKIE|SESSION", re.IGNORECASE)


def config_secrets(config: Any) -> list[str]:
    """The literal secrets a pipeline config carries (see secret_values)."""
    return secret_values([n.url for n in getattr(config, "notifications", ())],
                         [p.env or {} for p in getattr(config, "phases", ())])


def secret_values(urls: Iterable[str], envs: Iterable[Mapping[str, str]]) -> list[str]:
    """Notification URLs, and the phase `env` values that are URLs or whose name says they are a credential.
    Short values (< 4 characters) are left alone: masking `1` everywhere would make every line unreadable."""
    out = [u for u in urls if u]
    for env in envs:
        for name, value in env.items():
            if len(value) >= 4 and (_SECRET_NAME.search(name) or _URL.search(value)):
                out.append(value)
    return sorted(set(out))
