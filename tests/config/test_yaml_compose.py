"""yamlsource composes with libyaml when PyYAML has it (a run reads its config, calendar and suites at start): the
node trees are the ones PyYAML's Python loader builds (tags, values, lines), and every refusal - a syntax error,
nesting deeper than MAX_DEPTH - is still worded by the Python loader, at the same line."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backfill_orchestrator.errors import ConfigError
from backfill_orchestrator.yamlsource import MAX_DEPTH, _compose, _Loader, load_yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(getattr(yaml, "CSafeLoader", None) is None, reason="PyYAML built without libyaml")


def _tree(node: yaml.Node | None, seen: set[int] | None = None) -> object:
    if node is None:
        return None
    seen = set() if seen is None else seen
    where = (type(node).__name__, node.tag, node.start_mark.line, node.start_mark.column)
    if id(node) in seen:  # an alias: the same node again (recursive anchors are legal YAML)
        return ("alias", *where)
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        return (*where, node.value)
    if isinstance(node, yaml.SequenceNode):
        return (*where, [_tree(v, seen) for v in node.value])
    return (*where, [(_tree(k, seen), _tree(v, seen)) for k, v in node.value])


def _python(text: str) -> yaml.Node | None:
    return yaml.compose(text, Loader=_Loader)


def test_every_shipped_yaml_file_composes_as_the_python_loader_does():
    files = sorted((ROOT / "config").rglob("*.yaml"))
    assert len(files) > 5
    for f in files:
        text = f.read_text()
        assert _tree(_compose(text)) == _tree(_python(text)), f


@pytest.mark.parametrize("text", [
    "", "a: 1\n", "- [1, 2.5, null, ~, true, 2024-01-02, '2024-01-02', \"x\\ty\"]\n", "k: |\n  two\n  lines\n",
    "a: &x {b: 1}\nc: *x\nd: [*x, *x]\n", "a: &r [1, *r]\n", "? [a, b]\n: 1\n", "x: 1\nx: 2\n", "é: ü\n",
    "!!str 12\n", "a: !custom 1\n", "<<: {a: 1}\nb: 2\n",
])
def test_small_documents_compose_alike(text):
    assert _tree(_compose(text)) == _tree(_python(text))


def _nested(levels: int) -> str:
    return "[" * levels + "1" + "]" * levels + "\n"


@pytest.mark.parametrize("text", [
    "a: [1, 2\n", "a: 'open\n", "a:\n  b: 1\n c: 2\n", "--- 1\n--- 2\n", "a: *undefined\n", "\x07: 1\n",
    _nested(MAX_DEPTH), _nested(MAX_DEPTH + 5), _nested(20_000), "a:\n" + "".join(f"{'  ' * i}- \n" for i in range(1, 80)),
])
def test_refusals_are_the_python_loaders(text, tmp_path):
    try:
        _python(text)
    except yaml.YAMLError as e:
        expected: object = type(e)
    else:
        expected = None
    if expected is None:  # accepted by both
        assert _tree(_compose(text)) == _tree(_python(text))
        return
    with pytest.raises(expected):  # type: ignore[call-overload]
        _compose(text)
    if not issubclass(expected, yaml.MarkedYAMLError):  # type: ignore[arg-type]
        return
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as got:
        load_yaml(f)
    assert str(got.value).startswith(f"{f}:") and "\n" not in str(got.value)


def test_nesting_at_the_limit_is_refused_at_its_line(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("top:\n  " + _nested(MAX_DEPTH + 1))
    with pytest.raises(ConfigError, match=rf"deep.yaml:2: YAML syntax error: nested deeper than {MAX_DEPTH} levels"):
        load_yaml(f)
