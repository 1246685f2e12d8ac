"""Documentation cannot fall behind the commands: every command has help and a README entry."""
from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from backfill_orchestrator.cli import COMMAND_MODULES, cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    ctx = click.Context(cli)
    for name in sorted(n for names in COMMAND_MODULES.values() for n in names):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            out += [(name, sub) for sub in cmd.list_commands(ctx)]
        else:
            out.append((name,))
    return out


@pytest.mark.parametrize("words", _commands(), ids=" ".join)
def test_every_command_has_help_and_a_readme_entry(words):
    result = CliRunner().invoke(cli, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and len(result.output.splitlines()) > 4
    assert f"`backfill {' '.join(words)}" in README, f"README has no entry for `backfill {' '.join(words)}`"


def test_readme_starts_with_the_two_commands():
    head = README.splitlines()[:6]
    assert any(line.startswith("scripts/demo.sh") for line in head)
    assert any(line.startswith("scripts/test.sh") for line in head)


def test_readme_documents_exit_codes_like_the_help():
    help_text = CliRunner().invoke(cli, ["--help"]).output
    for code, meaning in [("0", "success"), ("1", "a gate or a phase failed"), ("2", "usage or configuration error"),
                          ("3", "finished with warnings")]:
        assert f"{code}  {meaning}" in help_text
        assert f"| {code} |" in README


def test_every_runbook_anchor_exists():
    from backfill_orchestrator.events import ANCHORS

    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for anchor in set(ANCHORS.values()):
        assert f'<a id="{anchor}"></a>' in runbook, anchor
