"""Issue 13 item 1: no two of our own writes to one table overlap on BigQuery, measured by the proxy in front of
the emulator while a real job runs with 2 workers; an outside writer's concurrent-update abort is retried and
counted in the job's PROGRESS/COMPLETE lines."""
from __future__ import annotations

import threading

from backfill_orchestrator.warehouse import WarehouseSettings
from backfill_orchestrator.warehouse.bigquery import BigQueryWarehouse
from nba_pipeline.sample_data import write_sample
from nba_pipeline.tables import DERIVED, TEAM_OFFENSE

from bqhelp import D, url_of
from bqproxy import BQProxy, Mutation, dml_insert
from nba_jobhelp import check_format, run_job

CONCURRENT = ("Transaction is aborted due to concurrent update against table "
              "test-project.nba_analytics.team_offense_game_summary")


def _overlaps(ms: list[Mutation]) -> list[tuple[str, str]]:
    out = []
    by_table: dict[str, list[Mutation]] = {}
    for m in ms:
        for t in m.tables:
            by_table.setdefault(t, []).append(m)
    for group in by_table.values():
        group.sort(key=lambda m: m.start)
        for a, b in zip(group, group[1:]):
            if a.end is None or b.start < a.end:
                out.append((a.job_id, b.job_id))
    return out


def test_job_with_two_workers_never_overlaps_its_writes(direct: BigQueryWarehouse, proxy: BQProxy,
                                                        proxied_settings: WarehouseSettings, tmp_path) -> None:
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 20))
    proxy.mutation_delay = 0.05  # wider windows: two unserialised workers would overlap for sure
    run = run_job("team_offense", "--start-date", "2024-11-01", "--end-date", "2024-11-20", "--workers", "2",
                  "--batch-days", "2", "--warehouse", url_of(proxied_settings),
                  "--checkpoint", str(tmp_path / "cp.json"))
    check_format(run)
    assert run.code == 0, run.stderr
    writes = [m for m in proxy.mutations() if any(t.endswith("nba_analytics.team_offense_game_summary") for t in m.tables)]
    assert len(writes) >= 8  # one per batch of 2 dates with games
    assert all(m.end is not None for m in writes)
    assert _overlaps(writes) == []


def test_the_proxy_sees_overlapping_writes_when_there_are_some(direct: BigQueryWarehouse, proxy: BQProxy,
                                                               via_proxy: BigQueryWarehouse) -> None:
    """The negative control: two writers outside the job kit's lock, held until both arrived, do overlap."""
    direct.create_table(TEAM_OFFENSE, DERIVED[TEAM_OFFENSE])
    proxy.mutation_barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def write(day: int) -> None:
        try:
            via_proxy.execute([(f"DELETE FROM {TEAM_OFFENSE} WHERE game_date = @d", {"d": D(2024, 11, day)})])
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(d,)) for d in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(_overlaps(proxy.mutations())) == 1


def test_concurrent_update_abort_is_retried_and_counted(direct: BigQueryWarehouse, proxy: BQProxy,
                                                        proxied_settings: WarehouseSettings, fast_retry,
                                                        tmp_path) -> None:
    write_sample(direct, D(2024, 11, 1), D(2024, 11, 6))
    proxy.fail(dml_insert, times=2, reason="invalidQuery", job_error=CONCURRENT)
    run = run_job("team_offense", "--start-date", "2024-11-01", "--end-date", "2024-11-06", "--workers", "2",
                  "--batch-days", "3", "--warehouse", url_of(proxied_settings),
                  "--checkpoint", str(tmp_path / "cp.json"))
    check_format(run)
    assert run.code == 0, run.stderr + "\n".join(run.lines)
    assert [w for w, _ in proxy.injected] == ["invalidQuery", "invalidQuery"]
    assert run.complete.startswith("[jobkit] COMPLETE status=ok")
    assert run.complete.endswith(" retries=2 conflicts=2")
    assert run.kind("PROGRESS")[-1].endswith(" retries=2 conflicts=2")
    n = direct.query(f"SELECT COUNT(*) AS n FROM {TEAM_OFFENSE}")[0]["n"]
    assert n == int(run.field(run.complete, "records"))  # each date written once, retries included
