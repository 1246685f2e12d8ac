"""`backfill restart PHASE --from DATE` after a raw correction re-runs the dates it names, whatever the pipeline's
checkpoint says, and the phases downstream re-run from the same date (issue 12's silent failure: the job found
"N of N dates already done", processed nothing, and every table kept its old values while the run said passed).

Real jobs (nba_pipeline) on a real DuckDB file, through the real CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.state import open_state

REPO = Path(__file__).resolve().parents[2]
BACKFILL = Path(sys.executable).parent / "backfill"
START, END, FIX = "2024-01-05", "2024-01-12", "2024-01-10"


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BACKFILL), *args], cwd=root, capture_output=True, text=True, timeout=300)


def _phase_cmd(module: str) -> str:
    return (f'["{{python}}", -m, nba_pipeline.{module}, --dates-file, "{{dates_file}}", --workers, "1", '
            f'--checkpoint, "{{checkpoint}}", --warehouse, "{{warehouse}}"]')


def _usage(db: Path, game: str, team: str) -> dict[str, float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT player_id, usage_rate FROM nba_analytics.player_game_summary "
                                "WHERE game_id = ? AND team_id = ?", [game, team]).fetchall())
    finally:
        con.close()


def test_restart_from_a_date_reprocesses_it_and_reruns_dependents_after_a_raw_correction(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    subprocess.run([sys.executable, "-m", "nba_pipeline.sample_data", "--out", str(db), "--start", START, "--end",
                    END, "--seasons", str(REPO / "config" / "seasons.yaml")], check=True, capture_output=True,
                   timeout=300)
    (tmp_path / "p.yaml").write_text(f"""
pipeline: restart-real
warehouse: {{duckdb: {{path: {db}}}}}
calendar: {REPO / 'config' / 'seasons.yaml'}
suites: [{REPO / 'config' / 'suites'}]
logs_dir: logs
defaults: {{workers: 1, retries: 0}}
polling: {{interval: 0.1s}}
phases:
  - name: team_offense_game_summary
    command: {_phase_cmd('team_offense')}
    dates: {{start: {START}, end: {END}}}
    post: team_offense_game_summary
  - name: player_game_summary
    depends_on: [team_offense_game_summary]
    command: {_phase_cmd('player_game_summary')}
    dates: {{start: {START}, end: {END}}}
    post: player_game_summary
""")
    # on 8 dates the regression checks have no baseline: the run ends `warned` (exit 3), which is fine here
    first = _cli(tmp_path, "run", "p.yaml")
    assert first.returncode in (0, 3), first.stdout + first.stderr

    # the raw correction: one team's turnovers on FIX (and one of its players', so the box score stays whole)
    con = duckdb.connect(str(db))
    try:
        game, team = con.execute("SELECT game_id, team_id FROM nba_raw.team_box_scores WHERE game_date = ? "
                                 "ORDER BY game_id, team_id LIMIT 1", [FIX]).fetchone()
        player = con.execute("SELECT player_id FROM nba_raw.player_box_scores WHERE game_id = ? AND team_id = ? "
                             "AND minutes > 20 ORDER BY player_id LIMIT 1", [game, team]).fetchone()[0]
        con.execute("UPDATE nba_raw.team_box_scores SET turnovers = turnovers + 6 WHERE game_id = ? AND team_id = ?",
                    [game, team])
        con.execute("UPDATE nba_raw.player_box_scores SET turnovers = turnovers + 6 WHERE game_id = ? AND "
                    "player_id = ?", [game, player])
    finally:
        con.close()
    before = _usage(db, game, team)

    run_dir = (tmp_path / "logs" / "latest").resolve()
    again = _cli(tmp_path, "restart", "team_offense_game_summary", "--from", FIX, "--run", run_dir.name)
    assert again.returncode in (0, 3), again.stdout + again.stderr

    with open_state(run_dir) as st:
        team_rec, player_rec = st.phase("team_offense_game_summary"), st.phase("player_game_summary")
    # both phases ran again, each on the dates from FIX on, each with a checkpoint of its own
    for rec in (team_rec, player_rec):
        assert (rec.status in ("passed", "warned"), rec.attempt, rec.rerun) == (True, 2, 1), rec
        assert [str(d) for d in read_date_file(rec.dates_file)] == ["2024-01-10", "2024-01-11", "2024-01-12"]
        assert any(a.endswith(".rerun-1.json") for a in rec.cmdline), rec.cmdline
        log = Path(rec.log_path).read_text()
        attempt_two = log[log.rindex("[jobkit] START"):]
        processed = [ln.split()[2] for ln in attempt_two.splitlines() if ln.startswith("[jobkit] DATE ")]
        assert processed == ["2024-01-10", "2024-01-11", "2024-01-12"], attempt_two
        assert "already done" not in attempt_two

    con = duckdb.connect(str(db), read_only=True)
    try:
        raw_tov, derived_tov = con.execute(
            "SELECT r.turnovers, t.turnovers FROM nba_raw.team_box_scores r JOIN "
            "nba_analytics.team_offense_game_summary t USING (game_id, team_id) WHERE game_id = ? AND team_id = ?",
            [game, team]).fetchone()
    finally:
        con.close()
    assert derived_tov == raw_tov  # the corrected value reached the derived table ...
    after = _usage(db, game, team)
    assert after.keys() == before.keys() and after[player] != before[player]  # ... and the dependent's usage_rate
