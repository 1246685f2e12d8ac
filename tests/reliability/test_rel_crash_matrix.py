"""The crash matrix: a 3-phase run of the real NBA jobs on a real DuckDB warehouse, killed with SIGKILL

1. the orchestrator, right after its k-th committed phase transition, for every k of the run (state.py's test hook
   BACKFILL_TEST_CRASH_AT_TRANSITION: the process kills itself where a real crash would leave the state), then
   `backfill resume`;
2. a phase's job, at 20 seeded random moments (after a random number of its dates; with --batch-days 3 the kill
   lands inside the next batch's transaction), the orchestrator retrying what was not done;

and every time the final warehouse equals the uninterrupted run's (per table: row count and an order-independent
checksum of every row, processed_at excluded), each phase ends as it did there, and no phase was launched twice
(one START per phase log in 1; in 2, one launch per kill plus one).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from backfill_orchestrator.state import open_state
from orch_harness import wait_for

REPO = Path(__file__).resolve().parents[2]
BACKFILL = Path(sys.executable).parent / "backfill"
START, END = "2024-01-05", "2024-01-22"  # 18 dates
PHASES = [("team_offense_game_summary", "team_offense", "nba_analytics.team_offense_game_summary"),
          ("player_game_summary", "player_game_summary", "nba_analytics.player_game_summary"),
          ("player_composite_factors", "player_composite_factors", "nba_precompute.player_composite_factors")]
PHASE_KILLS, KILLS_PER_RUN, SEED = 20, 5, 1414


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("crash-template") / "wh.duckdb"
    subprocess.run([sys.executable, "-m", "nba_pipeline.sample_data", "--out", str(db), "--start", START, "--end",
                    END, "--seasons", str(REPO / "config" / "seasons.yaml")], check=True, capture_output=True,
                   timeout=300)
    return db


def _workspace(root: Path, template: Path, retries: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, root / "wh.duckdb")
    phases = []
    for i, (name, module, _table) in enumerate(PHASES):
        phases.append(f"""
  - name: {name}
    command: ["{{python}}", -m, nba_pipeline.{module}, --dates-file, "{{dates_file}}", --workers, "1",
              --batch-days, "3", --checkpoint, "{{checkpoint}}", --warehouse, "{{warehouse}}"]
    dates: {{start: {START}, end: {END}}}
    post: {name}""" + (f"\n    depends_on: [{PHASES[i - 1][0]}]" if i else ""))
    (root / "p.yaml").write_text(f"""pipeline: crash-matrix
warehouse: {{duckdb: {{path: wh.duckdb}}}}
calendar: {REPO / 'config' / 'seasons.yaml'}
suites: [{REPO / 'config' / 'suites'}]
logs_dir: logs
defaults: {{workers: 1, retries: {retries}, retry_backoff: 0.1s}}
polling: {{interval: 0.1s}}
phases:{''.join(phases)}
""")
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "BACKFILL_TEST_CRASH_AT_TRANSITION"}
    return {**env, **extra}


def _cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BACKFILL), *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env=_env(**env))


def _fingerprint(db: Path) -> dict[str, tuple]:
    """Per output table: (rows, order-independent checksum of every row without processed_at)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {table: con.execute(f"SELECT count(*), sum(hash(t)) FROM (SELECT * EXCLUDE (processed_at) "
                                   f"FROM {table}) t").fetchone() for _, _, table in PHASES}
    finally:
        con.close()


def _outcome(root: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Each phase's status, and how many times its job started (START lines in its log)."""
    run_dir = (root / "logs" / "latest").resolve()
    with open_state(run_dir) as st:
        statuses = {p.name: str(p.status) for p in st.phases()}
    starts = {name: (run_dir / f"{name}.log").read_text().count("[jobkit] START")
              if (run_dir / f"{name}.log").exists() else 0 for name, _, _ in PHASES}
    return statuses, starts


@pytest.fixture(scope="module")
def baseline(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = _workspace(tmp_path_factory.mktemp("crash-baseline"), template)
    r = _cli(root, "run", "p.yaml")
    assert r.returncode in (0, 3), r.stdout + r.stderr  # 18 dates: the regression checks have no baseline (warn)
    statuses, starts = _outcome(root)
    assert starts == {name: 1 for name, _, _ in PHASES}
    fp = _fingerprint(root / "wh.duckdb")
    assert all(rows > 0 for rows, _ in fp.values()), fp
    return {"code": r.returncode, "statuses": statuses, "fingerprint": fp}


def test_kill9_of_the_orchestrator_at_every_transition_then_resume(template: Path, baseline: dict,
                                                                   tmp_path: Path) -> None:
    crashed = 0
    for k in range(1, 100):
        root = _workspace(tmp_path / f"k{k}", template)
        r = _cli(root, "run", "p.yaml", BACKFILL_TEST_CRASH_AT_TRANSITION=str(k))
        if r.returncode != -signal.SIGKILL:  # the run has fewer than k transitions: every one was crashed at
            assert r.returncode == baseline["code"], r.stdout + r.stderr
            break
        crashed += 1
        res = _cli(root, "resume")
        assert res.returncode == baseline["code"], f"k={k}: {res.stdout}{res.stderr}"
        statuses, starts = _outcome(root)
        assert statuses == baseline["statuses"], f"k={k}"
        assert starts == {name: 1 for name, _, _ in PHASES}, f"k={k}: a phase was launched twice: {starts}"
        assert _fingerprint(root / "wh.duckdb") == baseline["fingerprint"], f"k={k}"
        shutil.rmtree(root)
    assert crashed >= 9, crashed  # 3 phases x (running, validating, an outcome) at least
    print(f"orchestrator crashed at each of {crashed} transitions")


def _kill_phase_jobs(root: Path, rng: random.Random, kills: int) -> list[tuple[str, int, int, int]]:
    """Kill -9 the running phase's job `kills` times, each after a seeded random number of the dates of its
    attempt: (phase, dates logged, dates of the attempt) per kill. An attempt that ends before its moment is let be."""
    done: list[tuple[str, int, int, int]] = []
    run_dir = wait_for(lambda: (root / "logs" / "latest").resolve() if (root / "logs" / "latest" /
                                                                         "state.sqlite").exists() else None,
                       timeout=60, what="the run directory")
    moments: dict[int, int] = {}  # pid -> dates after which it is killed

    def target():
        with open_state(run_dir) as st:
            for p in st.phases():
                if p.status != "running" or not p.pid or not p.log_path or not Path(p.log_path).exists():
                    continue
                text = Path(p.log_path).read_text(errors="replace")
                start = text.rfind("[jobkit] START")
                if start < 0 or f"pid={p.pid}" not in text[start:start + 200]:
                    continue  # this attempt has not started logging yet
                attempt = text[start:]
                if p.pid not in moments:
                    n = int(attempt.split("dates=", 1)[1].split()[0])
                    moments[p.pid] = rng.randrange(0, n) if n else 0  # a retry with nothing left to do: n = 0
                if "[jobkit] COMPLETE" in attempt:
                    continue  # ended before its moment
                logged, n = attempt.count("[jobkit] DATE"), int(attempt.split("dates=", 1)[1].split()[0])
                if moments[p.pid] <= logged < n:  # dates left: it is still working (in its next batch)
                    return p, logged, n
            if st.run().status != "running":
                return "over"
        return None

    killed: set[int] = set()
    while len(done) < kills:
        found = wait_for(target, timeout=120, what="a phase job to kill")
        if found == "over":
            break
        p, logged, total = found
        if p.pid in killed:
            continue
        killed.add(p.pid)
        os.killpg(p.pid, signal.SIGKILL)  # our own launch: its group exists until the orchestrator reaps it
        done.append((p.name, p.pid, logged, total))
    return done


def _died_unfinished(root: Path, phase: str, pid: int) -> bool:
    text = ((root / "logs" / "latest").resolve() / f"{phase}.log").read_text(errors="replace")
    attempt = text[text.index(f"pid={pid}"):]
    nxt = attempt.find("[jobkit] START")
    return "[jobkit] COMPLETE" not in (attempt[:nxt] if nxt >= 0 else attempt)


def test_kill9_of_phase_jobs_at_seeded_random_moments_loses_and_duplicates_no_row(template: Path, baseline: dict,
                                                                                  tmp_path: Path) -> None:
    """Runs (seeds SEED, SEED+1, ...) of up to KILLS_PER_RUN kills each, until PHASE_KILLS kills were made (an
    attempt that ends before its drawn moment is not killed, so a run may make fewer)."""
    total: list[tuple[str, int, int, int]] = []
    for run in range(3 * PHASE_KILLS // KILLS_PER_RUN):
        if len(total) >= PHASE_KILLS:
            break
        rng = random.Random(SEED + run)
        root = _workspace(tmp_path / f"run{run}", template, retries=KILLS_PER_RUN + 1)
        orch = subprocess.Popen([str(BACKFILL), "run", "p.yaml"], cwd=root, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            kills = _kill_phase_jobs(root, rng, KILLS_PER_RUN)
            out, err = orch.communicate(timeout=300)
        finally:
            if orch.poll() is None:
                orch.kill()
        assert orch.returncode == baseline["code"], out + err
        statuses, starts = _outcome(root)
        assert statuses == baseline["statuses"], kills
        assert _fingerprint(root / "wh.duckdb") == baseline["fingerprint"], kills
        # a kill that landed (the attempt never logged its COMPLETE) cost one relaunch of that phase, never two
        # copies at once; one sent as the job was exiting changed nothing and is not counted
        landed = [k for k in kills if _died_unfinished(root, k[0], k[1])]
        assert starts == {name: 1 + sum(k[0] == name for k in landed) for name, _, _ in PHASES}, (starts, kills)
        total += landed
        shutil.rmtree(root)
    assert len(total) >= PHASE_KILLS, total
    print(f"{len(total)} phase jobs killed: {total}")
