"""Gate-driven repair (issue 12) with the real NBA jobs on a small sample warehouse (three weeks of one season),
through the real `backfill` CLI as a subprocess: the users' race (raw team rows landing after the team job ran),
a source gap and its repair after a refill, and a restart whose dependents re-run as far as their history reaches.

The harness-based tests (test_repair.py) cover the state machine on fake jobs; these prove the same decisions on
the tables the users care about: usage_rate, and factor rows that must equal a from-scratch build."""
from __future__ import annotations

import datetime as dt
import hashlib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from backfill_orchestrator.dates import read_date_file
from backfill_orchestrator.state import EventRecord, PhaseRecord, RepairRecord, RunRecord, open_state

REPO = Path(__file__).resolve().parents[2]
BACKFILL = Path(sys.executable).parent / "backfill"
SEASONS = REPO / "config" / "seasons.yaml"
# mid-season (2024-25 starts 2024-10-22): every date is past the composite factors' 14-day bootstrap
START, END = dt.date(2024, 12, 2), dt.date(2024, 12, 22)
D1, D2 = dt.date(2024, 12, 9), dt.date(2024, 12, 11)  # the race's late dates / the source gap
FIX = dt.date(2024, 12, 4)  # the raw correction of the history test: early, so most of the range lies after it
TEAM, DEFENSE, PLAYER, COMPOSITE = ("team_offense_game_summary", "team_defense_factors", "player_game_summary",
                                    "player_composite_factors")


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [str(first + dt.timedelta(days=i)) for i in range((last - first).days + 1)]


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BACKFILL), *args], cwd=root, capture_output=True, text=True, timeout=300)


def _sample(db: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "nba_pipeline.sample_data", "--out", str(db), "--start", str(START),
                    "--end", str(END), "--seasons", str(SEASONS), *extra], check=True, capture_output=True,
                   timeout=300)


def _phase_cmd(module: str, *extra: str) -> str:
    more = "".join(f', "{a}"' for a in extra)
    return (f'["{{python}}", -m, nba_pipeline.{module}, --dates-file, "{{dates_file}}", --workers, "1", '
            f'--checkpoint, "{{checkpoint}}", --warehouse, "{{warehouse}}"{more}]')


def _pipeline(root: Path, db: Path, late_raw: str = "") -> Path:
    """The default pipeline's four NBA phases on START..END, with repair, history and the declared sources. The
    refill hints name this interpreter, so the printed command runs as it is."""
    refill = (f"{sys.executable} -m nba_pipeline.sample_data --out {db} --start {START} --end {END} "
              f"--seasons {SEASONS} --refill {{table}} --refill-dates {{{{start}}}}..{{{{end}}}}")
    team_extra = ("--late-raw", late_raw) if late_raw else ()
    path = root / "p.yaml"
    path.write_text(f"""
pipeline: repair-nba
warehouse: {{duckdb: {{path: {db}}}}}
calendar: {SEASONS}
suites: [{REPO / 'config' / 'suites'}]
logs_dir: logs
defaults: {{workers: 1, retries: 0, repair: {{max_rounds: 2}}}}
polling: {{interval: 0.1s}}
sources:
  nba_raw.team_box_scores:
    expected_from: nba_raw.schedule
    refill: "{refill.format(table='nba_raw.team_box_scores')}"
  nba_raw.player_box_scores:
    expected_from: nba_raw.schedule
    refill: "{refill.format(table='nba_raw.player_box_scores')}"
phases:
  - name: {TEAM}
    command: {_phase_cmd('team_offense', *team_extra)}
    dates: {{start: {START}, end: {END}}}
    post: team_offense_game_summary
  - name: {DEFENSE}
    depends_on: [{TEAM}]
    command: {_phase_cmd('team_factors')}
    dates: {{start: {START}, end: {END}}}
    history: season
    post: team_defense_factors
  - name: {PLAYER}
    depends_on: [{TEAM}]
    command: {_phase_cmd('player_game_summary')}
    dates: {{start: {START}, end: {END}}}
    post: player_game_summary
  - name: {COMPOSITE}
    depends_on: [{PLAYER}]
    command: {_phase_cmd('player_composite_factors', '--seasons', str(SEASONS))}
    dates: {{start: {START}, end: {END}, season_days_only: true, skip_first_days: 14}}
    history: season
    preflight: player_game_summary
    post: player_composite_factors
""")
    return path


def _last_attempt_dates(rec: PhaseRecord) -> list[str]:
    """The dates the phase's last attempt processed, from its log's DATE lines (what the job really did)."""
    log = Path(rec.log_path).read_text()
    last = log[log.rindex("[jobkit] START"):]
    return [ln.split()[2] for ln in last.splitlines() if ln.startswith("[jobkit] DATE ")]


def _usage_nulls(db: Path, first: dt.date, last: dt.date) -> tuple[int, int]:
    """(player-games that played on first..last, those of them with usage_rate NULL)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT COUNT(*), COUNT(*) FILTER (WHERE usage_rate IS NULL) FROM "
                           "nba_analytics.player_game_summary WHERE game_date BETWEEN ? AND ? AND minutes_played > 0",
                           [first, last]).fetchone()
    finally:
        con.close()


def _state_bytes(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run_dir.glob("state.sqlite*"))}


# --- 1. the race: upstream first --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RaceRun:
    """A run whose raw team rows of D1..D2 landed only after the team job ran (its documented --late-raw fault)."""
    db: Path
    run_dir: Path
    result: subprocess.CompletedProcess
    run: RunRecord
    phases: dict[str, PhaseRecord]
    repairs: list[RepairRecord]
    events: list[EventRecord]


@pytest.fixture(scope="module")
def race_run(tmp_path_factory: pytest.TempPathFactory) -> RaceRun:
    root = tmp_path_factory.mktemp("race")
    db = root / "wh.duckdb"
    _sample(db)
    _pipeline(root, db, late_raw=f"{D1}..{D2}")
    res = _cli(root, "run", "p.yaml")
    run_dir = (root / "logs" / "latest").resolve()
    with open_state(run_dir) as st:
        return RaceRun(db, run_dir, res, st.run(), {p.name: p for p in st.phases()}, st.repairs(), st.events())


def _steps(rnd: RepairRecord) -> list[tuple[str, list[str]]]:
    return [(s.phase, s.dates) for s in rnd.steps]


# the team job first, then what read it (team_defense_factors, history season: from D1 to the season's end within
# its dates, END), then the target on its failing dates
UPSTREAM_FIRST = [(TEAM, _days(D1, D2)), (DEFENSE, _days(D1, END)), (PLAYER, _days(D1, D2))]


def test_late_raw_team_rows_are_repaired_upstream_first_with_the_defense_factors_history(race_run: RaceRun) -> None:
    out = race_run.result.stdout + race_run.result.stderr
    assert race_run.result.returncode in (0, 3), out  # 3 if a gate warns; the point: not 1
    run, phases = race_run.run, race_run.phases
    assert run.status in ("passed", "warned") and "repaired: player_game_summary (1 round" in run.message, run
    assert "repaired:" in out

    # one round, on the late dates, that passed
    assert [(r.phase, r.session, r.round, r.status) for r in race_run.repairs] == [(PLAYER, 1, 1, "passed")], \
        race_run.repairs
    rnd = race_run.repairs[0]
    assert rnd.before == _days(D1, D2) and rnd.after == [] and rnd.gaps == {}, rnd
    assert _steps(rnd) == UPSTREAM_FIRST, rnd.steps

    # each re-run processed exactly its step's dates (a fresh checkpoint: the shared one says "done")
    for step in rnd.steps:
        rec = phases[step.phase]
        assert (rec.status, rec.attempt) == ("passed", 2), rec
        assert _last_attempt_dates(rec) == step.dates, step.phase
    # the composite factors started only after the repair, once, on every date
    assert (phases[COMPOSITE].status, phases[COMPOSITE].attempt) == ("passed", 1), phases[COMPOSITE]
    assert _last_attempt_dates(phases[COMPOSITE]) == _days(START, END)

    played, nulls = _usage_nulls(race_run.db, D1, D2)
    assert played > 100 and nulls == 0, (played, nulls)

    kinds = [e.kind for e in race_run.events]
    assert "repair_started" in kinds and "repair_finished" in kinds
    assert kinds.index("repair_started") < kinds.index("repair_finished")
    assert all(e.phase == PLAYER for e in race_run.events if e.kind in ("repair_started", "repair_finished"))
    report = (race_run.run_dir / "report.md").read_text()
    assert "Repairs" in report, report
    repairs_section = report[report.index("Repairs"):]
    assert f"`{PLAYER}` round 1: **passed**" in repairs_section, repairs_section


def test_a_passed_round_records_every_step_done(race_run: RaceRun) -> None:
    rnd = race_run.repairs[0]
    assert rnd.status == "passed"
    assert [(s.phase, s.status) for s in rnd.steps] == [(p, "done") for p, _ in UPSTREAM_FIRST], rnd.steps


# --- 2. and 3. a source gap, then `backfill repair` after the refill --------------------------------------------
@dataclass(frozen=True)
class GapRun:
    """A run whose team box scores lack D1..D2, as it stood when it ended (a snapshot: test 3 then repairs it)."""
    root: Path
    db: Path
    run_dir: Path
    result: subprocess.CompletedProcess
    phases: dict[str, PhaseRecord]
    repairs: list[RepairRecord]
    events: list[EventRecord]
    message: str


@pytest.fixture(scope="module")
def gap_run(tmp_path_factory: pytest.TempPathFactory) -> GapRun:
    root = tmp_path_factory.mktemp("gap")
    db = root / "wh.duckdb"
    _sample(db, "--drop-team-box", f"{D1}..{D2}")
    _pipeline(root, db)
    res = _cli(root, "run", "p.yaml")
    run_dir = (root / "logs" / "latest").resolve()
    with open_state(run_dir) as st:
        return GapRun(root, db, run_dir, res, {p.name: p for p in st.phases()}, st.repairs(), st.events(),
                      st.run().message or "")


def test_missing_raw_team_rows_are_a_source_gap_named_with_the_refill_and_nothing_reruns(gap_run: GapRun) -> None:
    res, phases = gap_run.result, gap_run.phases
    assert res.returncode == 1, res.stdout + res.stderr
    player = phases[PLAYER]
    assert (player.status, player.reason) == ("failed", "source_gap"), player
    refill = (f"--refill nba_raw.team_box_scores --refill-dates {D1}..{D2}")
    for text in (player.message, gap_run.message):
        assert "nba_raw.team_box_scores" in text and f"{D1}..{D2}" in text and refill in text, text
        assert f"backfill repair {gap_run.run_dir.name}" in text, text

    # nothing re-ran: every phase that ran did so once, and the round planned no step
    assert {n: p.attempt for n, p in phases.items()} == {TEAM: 1, DEFENSE: 1, PLAYER: 1, COMPOSITE: 0}, phases
    assert [(r.phase, r.status, r.steps) for r in gap_run.repairs] == [(PLAYER, "source_gap", [])], gap_run.repairs
    assert gap_run.repairs[0].gaps == {"nba_raw.team_box_scores": _days(D1, D2)}, gap_run.repairs[0]
    gaps = [e for e in gap_run.events if e.kind == "source_gap"]
    assert len(gaps) == 1 and gaps[0].phase == PLAYER and refill in gaps[0].message, gaps
    assert not any(e.kind == "repair_started" for e in gap_run.events)
    assert (phases[COMPOSITE].status, phases[COMPOSITE].reason) == ("skipped", "not_started"), phases[COMPOSITE]


def test_repair_dry_run_changes_nothing_and_repair_after_the_refill_finishes_the_run(gap_run: GapRun) -> None:
    root, run_dir, run_id = gap_run.root, gap_run.run_dir, gap_run.run_dir.name
    orch_log = run_dir / "orchestrator.log"

    def snapshot() -> tuple:
        with open_state(run_dir) as st:
            return ([(p.name, p.status, p.attempt, p.rerun, p.message) for p in st.phases()], len(st.events()),
                    len(st.repairs()))

    # before the refill: the plan names the gap and its refill command, and re-runs nothing
    bytes0, log0, state0 = _state_bytes(run_dir), orch_log.read_bytes(), snapshot()
    dry = _cli(root, "repair", run_id, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "source gap: nba_raw.team_box_scores" in dry.stdout and "re-runs: nothing" in dry.stdout, dry.stdout
    refill_lines = [ln.strip()[len("refill: "):] for ln in dry.stdout.splitlines()
                    if ln.strip().startswith("refill: ")]
    assert len(refill_lines) == 1 and f"--refill-dates {D1}..{D2}" in refill_lines[0], dry.stdout

    subprocess.run(shlex.split(refill_lines[0]), check=True, capture_output=True, timeout=300, cwd=root)

    # after it: the team gate fails on the gap's dates, so the team job re-runs them first
    dry = _cli(root, "repair", run_id, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = dry.stdout[dry.stdout.index("re-runs, in order:"):].splitlines()[1:]
    assert [ln.split(":")[0].strip() for ln in plan] == [f"1. {TEAM}", f"2. {DEFENSE}", f"3. {PLAYER}"], dry.stdout
    assert f"3 dates ({D1}..{D2}" in plan[0] and f"14 dates ({D1}..{END}" in plan[1] \
        and f"3 dates ({D1}..{D2}" in plan[2], plan
    # neither dry run changed the run: state file, phases, events, log; the warehouse's derived rows neither
    assert (_state_bytes(run_dir), orch_log.read_bytes(), snapshot()) == (bytes0, log0, state0)
    assert _usage_nulls(gap_run.db, D1, D2)[1] > 0

    res = _cli(root, "repair", run_id)
    out = res.stdout + res.stderr
    assert res.returncode in (0, 3), out
    assert "repaired: player_game_summary (1 round" in out, out
    with open_state(run_dir) as st:
        phases, repairs = {p.name: p for p in st.phases()}, st.repairs(PLAYER)
    assert phases[PLAYER].status == "passed", phases[PLAYER]
    # the run's gap round, then the `backfill repair` session's round, which re-ran the plan's steps
    assert [(r.session, r.round, r.status) for r in repairs] == [(1, 1, "source_gap"), (2, 1, "passed")], repairs
    assert _steps(repairs[1]) == UPSTREAM_FIRST, repairs[1].steps
    for step in repairs[1].steps:
        assert _last_attempt_dates(phases[step.phase]) == step.dates, step.phase
    # the phase the gap kept from starting ran, on every date
    composite = phases[COMPOSITE]
    assert (composite.status, composite.attempt) == ("passed", 1), composite
    assert _last_attempt_dates(composite) == _days(START, END)
    played, nulls = _usage_nulls(gap_run.db, D1, D2)
    assert played > 100 and nulls == 0, (played, nulls)


# --- 4. a restart's dependents re-run as far as their history reaches ------------------------------------------
def _correct_points(db: Path, delta: int = 6) -> str:
    """The raw correction: `delta` points move from one teammate to another in one game on FIX (the team's total,
    which the team job derived and this restart does not re-run, stays right). Returns the player who gained."""
    con = duckdb.connect(str(db))
    try:
        game, team = con.execute("SELECT game_id, team_id FROM nba_raw.team_box_scores WHERE game_date = ? "
                                 "ORDER BY game_id, team_id LIMIT 1", [FIX]).fetchone()
        gainer, loser = (r[0] for r in con.execute(
            "SELECT player_id FROM nba_raw.player_box_scores WHERE game_id = ? AND team_id = ? AND minutes > 20 "
            "AND points >= ? ORDER BY player_id LIMIT 2", [game, team, delta]).fetchall())
        con.execute("UPDATE nba_raw.player_box_scores SET points = points + ? WHERE game_id = ? AND player_id = ?",
                    [delta, game, gainer])
        con.execute("UPDATE nba_raw.player_box_scores SET points = points - ? WHERE game_id = ? AND player_id = ?",
                    [delta, game, loser])
        return gainer
    finally:
        con.close()


def _factors(db: Path) -> tuple[list[str], dict[tuple, tuple]]:
    """Every composite factor row, keyed by (player_id, game_id), every column but processed_at."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                          "'nba_precompute' AND table_name = 'player_composite_factors' "
                                          "ORDER BY ordinal_position").fetchall() if r[0] != "processed_at"]
        rows = con.execute(f"SELECT {', '.join(cols)} FROM nba_precompute.player_composite_factors").fetchall()
    finally:
        con.close()
    at = cols.index("player_id"), cols.index("game_id")
    return cols, {(r[at[0]], r[at[1]]): r for r in rows}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9)  # window sums may add in another order
    return a == b


def test_restart_reruns_dependents_to_season_end_and_equals_a_from_scratch_build(tmp_path: Path) -> None:
    db = tmp_path / "wh.duckdb"
    _sample(db)
    _pipeline(tmp_path, db)
    first = _cli(tmp_path, "run", "p.yaml")
    assert first.returncode in (0, 3), first.stdout + first.stderr
    run_dir = (tmp_path / "logs" / "latest").resolve()

    player = _correct_points(db)
    cols, before = _factors(db)
    again = _cli(tmp_path, "restart", PLAYER, "--from", str(FIX), "--to", str(FIX), "--run", run_dir.name)
    assert again.returncode in (0, 3), again.stdout + again.stderr

    with open_state(run_dir) as st:
        phases = {p.name: p for p in st.phases()}
    # the restarted phase: only FIX; its dependent (history: season): from FIX to the season's end in its dates
    for name, dates in ((PLAYER, _days(FIX, FIX)), (COMPOSITE, _days(FIX, END))):
        rec = phases[name]
        assert (rec.status in ("passed", "warned"), rec.attempt, rec.rerun) == (True, 2, 1), rec
        assert [str(d) for d in read_date_file(rec.dates_file)] == dates, name
        assert _last_attempt_dates(rec) == dates, name
    # what the player phase does not read from stays as it was
    assert (phases[TEAM].attempt, phases[DEFENSE].attempt) == (1, 1), phases

    # from scratch: the same sample with the same correction, through the same pipeline
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    sdb = scratch / "wh.duckdb"
    _sample(sdb)
    assert _correct_points(sdb) == player
    _pipeline(scratch, sdb)
    built = _cli(scratch, "run", "p.yaml")
    assert built.returncode in (0, 3), built.stdout + built.stderr

    _, after = _factors(db)
    _, expected = _factors(sdb)
    assert after.keys() == expected.keys()
    date_at = cols.index("game_date")
    mine_later = sorted(k for k, r in after.items() if k[0] == player and r[date_at] > FIX)
    assert len(mine_later) >= 3, mine_later
    diffs = [(k, c, after[k][i], expected[k][i]) for k in sorted(after) for i, c in enumerate(cols)
             if not _same(after[k][i], expected[k][i])]
    assert diffs == [], diffs[:10]
    # and the restart changed something: the player's later factors were stale before it
    assert any(before[k] != after[k] for k in mine_later), "the correction changed none of the player's factors"
