"""`backfill --help` lists every command from static text, without importing any command module, and shows
exactly what click would show by asking each command."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from backfill_orchestrator.cli import COMMAND_MODULES, SHORT_HELP, _shorten, cli

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = sorted((name, module) for module, names in COMMAND_MODULES.items() for name in names)


def _command(name: str, module: str) -> click.Command:
    mod = importlib.import_module(f"backfill_orchestrator.cli.{module}")
    return getattr(mod, name.replace("-", "_") + "_cmd")


def test_every_command_has_static_short_help() -> None:
    missing = [n for n, _ in COMMANDS if n not in SHORT_HELP]
    assert not missing, f"add these to SHORT_HELP in cli/__init__.py (each command's first docstring line): {missing}"
    assert sorted(SHORT_HELP) == sorted(n for n, _ in COMMANDS), "SHORT_HELP names a command that does not exist"


@pytest.mark.parametrize("name, module", COMMANDS)
def test_static_short_help_is_the_commands_own(name: str, module: str) -> None:
    cmd = _command(name, module)
    assert not cmd.hidden
    for limit in (2, 10, 30, 45, 60, 70, 74, 100, 200, 10_000):
        assert _shorten(SHORT_HELP[name], limit) == cmd.get_short_help_str(limit), (name, limit)


@pytest.mark.parametrize("width", [40, 80, 120, 200])
def test_help_listing_equals_clicks_own(width: int) -> None:
    def render(fmt: object) -> str:
        formatter = click.HelpFormatter(width=width)
        with click.Context(cli, info_name="backfill") as ctx:
            fmt(ctx, formatter)  # type: ignore[operator]
        return formatter.getvalue()

    ours = render(cli.format_commands)
    clicks = render(lambda ctx, f: click.Group.format_commands(cli, ctx, f))  # imports every command module
    assert ours == clicks
    assert all(f"  {n}" in ours for n, _ in COMMANDS)


def test_help_imports_no_command_module() -> None:
    code = ("import json, sys\nfrom backfill_orchestrator.cli import cli\n"
            "try:\n    cli(['--help'], prog_name='backfill')\nexcept SystemExit as e:\n    code = e.code\n"
            "heavy = sorted(m for m in sys.modules if m.endswith('_cmd') or m.split('.')[0] in "
            "('duckdb', 'sqlglot', 'google', 'rich'))\n"
            "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert json.loads(r.stderr.strip().splitlines()[-1]) == {"code": 0, "heavy": []}
    assert "Commands:" in r.stdout and "validate" in r.stdout


def test_every_command_taking_a_config_defaults_to_the_one_default_config() -> None:
    from backfill_orchestrator.cli.options import DEFAULT_CONFIG

    defaults = {}
    for name, module in COMMANDS:
        cmd = _command(name, module)
        subs = cmd.commands.values() if isinstance(cmd, click.Group) else [cmd]
        for c in subs:
            for p in c.params:
                if isinstance(p, click.Argument) and p.name in ("config", "file"):
                    defaults[f"{name} {c.name}" if c is not cmd else name] = p.default
    assert {"run", "plan", "config check"} <= set(defaults), defaults
    assert set(defaults.values()) == {DEFAULT_CONFIG}, defaults
    src = ROOT / "src" / "backfill_orchestrator"
    defined = [str(p.relative_to(src)) for p in src.rglob("*.py") if "\nDEFAULT_CONFIG =" in p.read_text()]
    assert defined == ["cli/options.py"], defined
