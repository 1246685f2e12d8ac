"""YAML with line numbers: every value knows its file, line and key path, so every error can name them.

Configuration modules (pipeline config, validation suites, season calendar) read YAML through `load_yaml`
and the typed accessors of `Node`; each accessor raises ConfigError as ONE line:
    config/pipeline.yaml:12: phases[1].timeout: expected a duration like '5h' or '30m', got 'soon'
`${VAR}` and `${VAR:-default}` in string values are replaced from the environment.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from .errors import ConfigError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 3650 * 86400.0  # ten years
MAX_DEPTH = 64  # nesting of lists and mappings; PyYAML composes recursively and a deeper file is an attack


def one_line(text: str) -> str:
    """`text` with every character that is not printable escaped (`\\n`, `\\x1e`, `\\u2028`): a key or value from
    a file may hold line or record separators, and an error about it must still be one line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass
class Node:
    """One YAML value with where it came from. `raw` is a yaml node (scalar, sequence or mapping)."""

    raw: yaml.Node
    file: str
    path: str  # e.g. "phases[1].timeout"; "" for the document root
    env: Mapping[str, str]

    @property
    def line(self) -> int:
        return self.raw.start_mark.line + 1

    # --- errors -------------------------------------------------------------------------------------
    def error(self, message: str, path: str | None = None) -> ConfigError:
        where = path if path is not None else self.path
        return ConfigError(one_line(f"{self.file}:{self.line}: {where + ': ' if where else ''}{message}"))

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    # --- structure ----------------------------------------------------------------------------------
    def is_map(self) -> bool:
        return isinstance(self.raw, yaml.MappingNode)

    def is_list(self) -> bool:
        return isinstance(self.raw, yaml.SequenceNode)

    def is_null(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode) and self.raw.tag == "tag:yaml.org,2002:null"

    def mapping(self) -> dict[str, "Node"]:
        if not self.is_map():
            raise self.error(f"expected a mapping, got {self._kind()}")
        out: dict[str, Node] = {}
        for k, v in self.raw.value:
            if not isinstance(k, yaml.ScalarNode):  # `? [a, b]: 1`: no key of ours is a list or a mapping
                raise Node(k, self.file, self.path, self.env).error(f"expected a plain key, got "
                                                                    f"{Node(k, self.file, '', self.env)._kind()}")
            key = str(k.value)
            if key in out:
                raise Node(k, self.file, self._child_path(key), self.env).error("duplicate key")
            out[key] = Node(v, self.file, self._child_path(key), self.env)
        return out

    def items(self) -> list["Node"]:
        if self.is_null():
            return []
        if not self.is_list():
            raise self.error(f"expected a list, got {self._kind()}")
        return [Node(v, self.file, self._child_path(i), self.env) for i, v in enumerate(self.raw.value)]

    def keys(self, allowed: set[str] | list[str], required: set[str] | list[str] = ()) -> dict[str, "Node"]:
        """The mapping, after checking for unknown keys ("did you mean") and missing required keys."""
        m = self.mapping()
        for key, child in m.items():
            if key not in allowed:
                hint = difflib.get_close_matches(key, list(allowed), n=1)
                key_line = next(k for k, _ in self.raw.value if str(k.value) == key).start_mark.line + 1
                msg = f"unknown key{' (did you mean ' + repr(hint[0]) + '?)' if hint else ''}"
                raise ConfigError(one_line(f"{self.file}:{key_line}: {child.path}: {msg}"))
        for key in required:
            if key not in m:
                raise self.error("missing required key", self._child_path(key))
        return m

    # --- scalars ------------------------------------------------------------------------------------
    def _kind(self) -> str:
        if self.is_map():
            return "a mapping"
        if self.is_list():
            return "a list"
        if self.is_null():
            return "nothing (null)"
        return repr(self.scalar())

    def scalar(self) -> Any:
        """The Python value of a scalar (YAML 1.1 rules), with ${VAR} interpolated in strings."""
        if not isinstance(self.raw, yaml.ScalarNode):
            raise self.error(f"expected a single value, got {self._kind()}")
        try:
            value = yaml.constructor.SafeConstructor().construct_object(self.raw, deep=True)
        except (ValueError, yaml.constructor.ConstructorError):
            value = self.raw.value  # e.g. 2024-02-30 looks like a date but is not one: keep the text
        if isinstance(value, str):
            value = self._interpolate(value)
        return value

    def _interpolate(self, text: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            raise self.error(f"environment variable {name} is not set (use ${{{name}:-default}} for a default)")

        return _ENV.sub(sub, text)

    def str(self) -> str:
        v = self.scalar()
        if isinstance(v, (dict, list)) or v is None:
            raise self.error(f"expected a string, got {self._kind()}")
        return v if isinstance(v, str) else self.raw.value

    def int(self, minimum: int | None = None) -> int:
        v = self.scalar()
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(f"expected an integer, got {self._kind()}")
        if minimum is not None and v < minimum:
            raise self.error(f"expected an integer >= {minimum}, got {v}")
        return v

    def number(self) -> float:
        v = self.scalar()
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.error(f"expected a number, got {self._kind()}")
        return float(v)

    def bool(self) -> bool:
        v = self.scalar()
        if not isinstance(v, bool):
            raise self.error(f"expected true or false, got {self._kind()}")
        return v

    def choice(self, options: list[str] | tuple[str, ...]) -> str:
        v = self.str()
        if v not in options:
            hint = difflib.get_close_matches(v, list(options), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise self.error(f"expected one of {', '.join(options)}, got {v!r}{extra}")
        return v

    def duration(self) -> float:
        """Seconds, from `90s`, `30m`, `5h`, `1d`, `500ms` or a bare number of seconds (at most MAX_DURATION:
        a longer one is a typo, and would overflow the date arithmetic of deadlines and ETAs)."""
        v = self.scalar()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
            seconds = float(v)
        else:
            m = _DURATION.match(v) if isinstance(v, str) else None
            if not m:
                raise self.error(f"expected a duration like '5h' or '30m', got {v!r}")
            seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        if not seconds <= MAX_DURATION:  # also NaN and infinity
            raise self.error(f"expected a duration of at most {MAX_DURATION // 86400:.0f}d, got {self.raw.value!r}")
        return seconds

    def date(self) -> dt.date:
        v = self.scalar()
        if isinstance(v, dt.datetime):
            v = v.date()
        if isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            raise self.error(f"expected a date like 2024-10-22, got {v!r}") from None

    def str_list(self) -> list[str]:
        return [n.str() for n in self.items()]


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting deeper than MAX_DEPTH at the line where it gets too deep (its
    composer recurses once per level: `[[[[...` thousands deep would end in a RecursionError)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:  # type: ignore[override]
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_CLoader = getattr(yaml, "CSafeLoader", None)  # libyaml's, when PyYAML was built with it
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of `text`, composed by libyaml when it is there (~20x faster than PyYAML's Python parser: a run
    reads its config, calendar and suites at start). Whatever libyaml refuses, and a file nested too deep for its
    recursive C composer, goes to _Loader, which words the error as it always did."""
    if _CLoader is not None:
        try:
            if _depth_within(text):
                return yaml.compose(text, Loader=_CLoader)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=_Loader)


def _depth_within(text: str) -> bool:
    """No node deeper than MAX_DEPTH, counted as _Loader counts (every node one deeper than its container)."""
    open_ = 0
    for event in yaml.parse(text, Loader=_CLoader):
        if isinstance(event, yaml.NodeEvent) and open_ + 1 > MAX_DEPTH:
            return False
        if isinstance(event, _OPEN):
            open_ += 1
        elif isinstance(event, _CLOSE):
            open_ -= 1
    return True


def load_yaml(path: str | Path, env: Mapping[str, str] | None = None) -> Node:
    """Parse `path` into a Node tree; YAML syntax errors and missing files become one-line ConfigErrors."""
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{name}: cannot read: {e}") from None
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{name}:{line}: YAML syntax error: {e.problem or e.context}") from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (a control character, ...)
        line = text[:e.position].count("\n") + 1
        char = e.character if isinstance(e.character, int) else ord(e.character)  # libyaml gives an int
        raise ConfigError(f"{name}:{line}: not YAML: character #x{char:04x}: {e.reason}") from None
    if root is None:
        root = yaml.ScalarNode("tag:yaml.org,2002:null", "", yaml.Mark(name, 0, 0, 0, None, None))
    return Node(root, name, "", os.environ if env is None else env)


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node`, depth first (for whole-document checks)."""
    yield node
    if node.is_map():
        for child in node.mapping().values():
            yield from walk(child)
    elif node.is_list():
        for child in node.items():
            yield from walk(child)
