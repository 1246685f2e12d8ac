"""progress: the incremental log follower, the line formats (line-exact), rate/ETA, the follow loop."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backfill_orchestrator.errors import ConfigError, UsageError
from backfill_orchestrator.process import launch, stop
from backfill_orchestrator.progress import (FollowPosition, LogFollower, Progress, RegexFormat, follow,
                                            format_progress_line, log_status, parser_for, read_into)

FAKES = Path(__file__).parent / "fakes"
PY = sys.executable
NOW = dt.datetime(2026, 1, 3, 14, 35, tzinfo=dt.timezone.utc)
D = dt.date.fromisoformat


def parse(text: str, fmt: str = "auto", custom=None, final: bool = True) -> Progress:
    parser = parser_for(fmt, custom)
    lines = text.split("\n")
    partial = lines.pop()  # what follows the last newline: a partial line, fed only when final
    for line in lines:
        parser.feed(line, NOW)
    if final and partial:
        parser.feed(partial, NOW)
    return parser.snapshot(NOW)


def write(path: Path, data: bytes | str, mode: str = "ab") -> None:
    with open(path, mode) as f:
        f.write(data.encode() if isinstance(data, str) else data)


# --- LogFollower ------------------------------------------------------------------------------------------------
def test_follower_reads_only_new_bytes_and_holds_a_partial_line(tmp_path):
    log = tmp_path / "p.log"
    f = LogFollower(log)
    assert f.read_lines() == []  # not created yet
    write(log, "one\ntwo\nthr")
    assert f.read_lines() == ["one", "two"]
    assert f.position.offset == len("one\ntwo\n")
    assert f.read_lines() == []
    write(log, "ee\r\nfour\n")
    assert f.read_lines() == ["three", "four"]
    write(log, "last without newline")
    assert f.read_lines() == []
    assert f.flush_partial() == ["last without newline"]
    assert f.flush_partial() == []


def test_follower_restarts_after_truncation(tmp_path):
    log = tmp_path / "p.log"
    write(log, "a\nb\nc\n")
    f = LogFollower(log)
    assert f.read_lines() == ["a", "b", "c"]
    write(log, "x\n", mode="wb")  # truncated (`> log`) and rewritten shorter
    assert f.read_lines() == ["x"]


def test_follower_finishes_the_old_file_after_rotation_by_rename(tmp_path):
    log = tmp_path / "p.log"
    write(log, "old 1\n")
    f = LogFollower(log)
    assert f.read_lines() == ["old 1"]
    write(log, "old 2\nold partial")  # written after our last read, before the rename
    os.rename(log, tmp_path / "p.log.1")
    assert f.read_lines() == ["old 2"]  # renamed away, not recreated yet: keep reading the old file
    write(tmp_path / "p.log.1", " end\n")
    write(log, "new 1\n")
    assert f.read_lines() == ["old partial end", "new 1"]
    write(log, "new 2\n")
    assert f.read_lines() == ["new 2"]


def test_follower_replaces_invalid_utf8(tmp_path):
    log = tmp_path / "p.log"
    write(log, b"ok \xe2\x9c\x93 \xff\xfe bad\n" + "✓ split".encode()[:2])
    f = LogFollower(log)
    assert f.read_lines() == ["ok ✓ \ufffd\ufffd bad"]
    write(log, "✓ split\n".encode()[2:])  # a multi-byte character cut between two writes decodes whole
    assert f.read_lines() == ["✓ split"]


def test_follower_position_is_saved_and_restored(tmp_path):
    log = tmp_path / "p.log"
    write(log, "1\n2\n3")
    f = LogFollower(log)
    assert f.read_lines() == ["1", "2"]
    pos = f.position
    f.close()
    write(log, "\n4\n")
    g = LogFollower(log, position=FollowPosition(pos.offset, pos.inode))
    assert g.read_lines() == ["3", "4"]  # the partial line is re-read whole, nothing twice
    # a saved position of another file (rotated while the orchestrator was down) starts at 0
    other = LogFollower(log, position=FollowPosition(pos.offset, pos.inode + 1))
    assert other.read_lines() == ["1", "2", "3", "4"]
    # and one past the end (truncated while down) too
    shorter = LogFollower(log, position=FollowPosition(10_000, pos.inode))
    assert shorter.read_lines() == ["1", "2", "3", "4"]
    # an offset without an inode applies to whatever file is there
    assert LogFollower(log, position=FollowPosition(pos.offset, None)).read_lines() == ["3", "4"]


# --- legacy-sequential --------------------------------------------------------------------------------------------
SEQUENTIAL = """\
2026-01-03 10:00:00,001 - INFO - Starting day-by-day backfill for 12 days
2026-01-03 10:00:00,002 - INFO - Processing day 1/12: 2024-10-22
2026-01-03 10:00:30,000 - INFO -   ✓ Success: 12,345 records from 7 games
2026-01-03 10:00:30,001 - INFO - Processing day 2/12: 2024-10-23
2026-01-03 10:01:00,000 - ERROR -   ✗ Failed: 2024-10-23
2026-01-03 10:01:00,001 - INFO - Processing day 3/12: 2024-10-24
2026-01-03 10:01:30,000 - ERROR -   ✗ Exception: 404 Not found: Table nba_analytics.team_offense_game_summary
2026-01-03 10:01:30,001 - INFO - Processing day 4/12: 2024-10-25
2026-01-03 10:02:00,000 - INFO -   ✓ Success: 1,000 records
"""


def test_legacy_sequential_line_exact_with_thousands_separators():
    p = parse(SEQUENTIAL)
    assert p.format == "legacy-sequential"
    assert (p.total, p.done, p.ok, p.failed, p.skipped, p.records) == (12, 4, 2, 2, 0, 13_345)
    assert p.failed_dates == [D("2024-10-23"), D("2024-10-24")]
    assert p.errors == ["2024-10-23: failed",
                        "2024-10-24: 404 Not found: Table nba_analytics.team_offense_game_summary"]
    assert not p.completed and p.fatal is None and log_status(p) == "incomplete"
    # line times come from asctime: 4 days in 2 minutes = 2.0 days/min (first sample at day 1's outcome)
    assert p.started_at == dt.datetime(2026, 1, 3, 10, 0, 0, 1000).astimezone(dt.timezone.utc)
    assert p.rate_per_min == pytest.approx(2.0)
    assert p.eta == dt.datetime(2026, 1, 3, 10, 6).astimezone(dt.timezone.utc)


def test_legacy_sequential_progress_line_and_summary_block():
    text = SEQUENTIAL + """\
2026-01-03 10:05:00,000 - INFO - Progress: 10/12 days (80.0% success), 123,456 total records (avg 12,345/day)
2026-01-03 10:06:00,000 - INFO - ================================================================================
2026-01-03 10:06:00,000 - INFO - DAY-BY-DAY BACKFILL SUMMARY:
2026-01-03 10:06:00,000 - INFO -   Total days: 12
2026-01-03 10:06:00,000 - INFO -   Successful days: 10
2026-01-03 10:06:00,000 - INFO -   Failed days: 2
2026-01-03 10:06:00,000 - INFO -   Success rate: 83.3%
2026-01-03 10:06:00,000 - INFO -   Total records processed: 1,234,567
2026-01-03 10:06:00,000 - INFO - ================================================================================
"""
    mid = parse(text.split("====")[0])
    assert (mid.done, mid.ok, mid.failed, mid.records) == (10, 2, 2, 123_456)  # stated counts win when larger
    p = parse(text)
    assert p.completed and p.complete_status == "failed" and log_status(p) == "failed"
    assert (p.total, p.done, p.ok, p.failed, p.records) == (12, 12, 10, 2, 1_234_567)
    assert p.eta is None


def test_legacy_truncated_last_line_is_not_counted_until_flushed():
    text = SEQUENTIAL + "2026-01-03 10:02:30,000 - INFO -   ✓ Success: 1,2"
    held = parse(text, final=False)
    assert (held.done, held.ok, held.records) == (4, 2, 13_345)
    flushed = parse(text, final=True)  # the process ended mid-line: the cut line must not count as a success
    assert (flushed.ok, flushed.records) == (2, 13_345) and log_status(flushed) == "incomplete"


def test_legacy_dates_mode():
    p = parse("2026-01-03 10:00:00,000 - INFO - Processing date 1/3: 2024-11-02\n"
              "2026-01-03 10:00:01,000 - INFO -   ✓ Success: 5 records\n"
              "2026-01-03 10:00:02,000 - INFO - Processing date 2/3: 2024-11-09\n")
    assert (p.format, p.total, p.done, p.ok, p.records) == ("legacy-sequential", 3, 1, 1, 5)


# --- legacy-parallel ----------------------------------------------------------------------------------------------
PARALLEL = """\
2026-01-03 10:00:00,000 - INFO - Starting parallel backfill: 1537 days with 15 workers
2026-01-03 10:00:05,000 - INFO -   ✓ 2024-10-22: 1,234 records
2026-01-03 10:00:06,000 - ERROR -   ✗ 2024-11-02: 404 Not found: Table nba_analytics.team_offense_game_summary
2026-01-03 10:00:07,000 - INFO -   ✓ 2024-10-23: 312 records
2026-01-03 10:01:00,000 - INFO - ============================================================
2026-01-03 10:01:00,000 - INFO - PROGRESS: 612/1537 days (39.8%)
2026-01-03 10:01:00,000 - INFO -   Success: 610
2026-01-03 10:01:00,000 - INFO -   Failed: 2
2026-01-03 10:01:00,000 - INFO -   Records: 51,234
2026-01-03 10:01:00,000 - INFO -   Rate: 2.1 days/min
2026-01-03 10:01:00,000 - INFO -   ETA: 440.5 min
2026-01-03 10:01:00,000 - INFO - ============================================================
"""


def test_legacy_parallel_progress_block():
    p = parse(PARALLEL)
    assert p.format == "legacy-parallel"
    assert (p.total, p.done, p.ok, p.failed, p.records) == (1537, 612, 610, 2, 51_234)
    assert p.failed_dates == [D("2024-11-02")]
    assert p.rate_per_min == 2.1
    assert p.eta == dt.datetime(2026, 1, 3, 10, 1).astimezone(dt.timezone.utc) + dt.timedelta(minutes=440.5)
    assert p.errors == ["2024-11-02: 404 Not found: Table nba_analytics.team_offense_game_summary"]
    assert not p.completed


def test_legacy_parallel_complete_block_with_thousands_separators():
    p = parse(PARALLEL + """\
2026-01-03 22:00:00,000 - INFO - PARALLEL BACKFILL COMPLETE
2026-01-03 22:00:00,000 - INFO -   Successful: 1,535
2026-01-03 22:00:00,000 - INFO -   Failed: 2
2026-01-03 22:00:00,000 - INFO -   Total records: 12,345
2026-01-03 22:00:00,000 - INFO -   Duration: 720.0 min
""")
    assert p.completed and p.complete_status == "failed"
    assert (p.done, p.ok, p.failed, p.records) == (1537, 1535, 2, 12_345)
    assert p.eta is None


def test_legacy_parallel_complete_without_failures_is_ok():
    p = parse("2026-01-03 10:00:05,000 - INFO -   ✓ 2024-10-22: 1,234 records\n"
              "2026-01-03 10:00:06,000 - INFO - PARALLEL BACKFILL COMPLETE\n"
              "2026-01-03 10:00:06,000 - INFO -   Successful: 1\n"
              "2026-01-03 10:00:06,000 - INFO -   Total records: 1,234\n", fmt="legacy-parallel")
    assert p.completed and log_status(p) == "ok" and (p.done, p.ok, p.records) == (1, 1, 1234)


def test_fatal_lines_traceback_fatal_critical():
    p = parse(SEQUENTIAL + "Traceback (most recent call last):\n"
                           '  File "job.py", line 3, in <module>\n'
                           "    main()\n"
                           "google.api_core.exceptions.Forbidden: 403 quota exceeded\n")
    assert p.fatal == "Traceback (most recent call last): ... google.api_core.exceptions.Forbidden: 403 quota exceeded"
    assert log_status(p) == "fatal"
    p = parse(PARALLEL + "2026-01-03 10:02:00,000 - CRITICAL - CRITICAL ERROR: worker pool died\n")
    assert p.fatal == "2026-01-03 10:02:00,000 - CRITICAL - CRITICAL ERROR: worker pool died"
    p = parse("[jobkit] START job=x dates=3 workers=1 pid=1\nFATAL: cannot connect\n")
    assert p.fatal == "FATAL: cannot connect" and p.format == "jobkit"


# --- jobkit -------------------------------------------------------------------------------------------------------
JOBKIT = """\
[jobkit] START job=player_game_summary dates=1537 workers=2 pid=12345
[jobkit] DATE 2024-10-22 ok records=312 seconds=0.41
[jobkit] DATE 2024-08-01 skipped records=0 seconds=0.01 reason="no games"
[jobkit] DATE 2024-11-02 failed records=0 seconds=0.20 error="TableNotFound: nba_analytics.x"
[jobkit] PROGRESS 612/1537 days ok=600 failed=2 skipped=10 records=51234 rate=2.10/min eta=2026-01-03T21:55:00Z
"""


def test_jobkit_progress():
    p = parse(JOBKIT)
    assert p.format == "jobkit"
    assert (p.total, p.done, p.ok, p.failed, p.skipped, p.records) == (1537, 612, 600, 2, 10, 51234)
    assert p.rate_per_min == 2.1 and p.eta == dt.datetime(2026, 1, 3, 21, 55, tzinfo=dt.timezone.utc)
    assert p.failed_dates == [D("2024-11-02")]
    assert p.errors == ["2024-11-02: TableNotFound: nba_analytics.x"]
    assert format_progress_line("player_game_summary", p, NOW) == (
        "2026-01-03T14:35:00Z phase=player_game_summary 612/1537 days (39.8%) ok=600 failed=2 skipped=10 "
        "records=51,234 rate=2.1 d/min eta=2026-01-03T21:55Z")


def test_jobkit_failed_ranges_retry_and_complete():
    p = parse(JOBKIT + """\
[jobkit] FAILED 2024-11-02..2024-11-05 (4 dates), 2024-12-01
[jobkit] RETRY python -m nba_pipeline.player_game_summary --dates 2024-11-02,2024-11-03
[jobkit] COMPLETE status=interrupted days=1537 ok=1200 failed=5 skipped=337 records=130000 seconds=55.2
""")
    assert p.failed_dates == [D("2024-11-02"), D("2024-11-03"), D("2024-11-04"), D("2024-11-05"), D("2024-12-01")]
    assert p.retry_command == "python -m nba_pipeline.player_game_summary --dates 2024-11-02,2024-11-03"
    assert p.completed and p.complete_status == "interrupted" and log_status(p) == "interrupted"
    assert (p.done, p.ok, p.failed, p.skipped, p.records) == (1542, 1200, 5, 337, 130000)


def test_jobkit_a_new_start_begins_a_new_run():
    p = parse(JOBKIT + "[jobkit] COMPLETE status=failed days=1537 ok=1 failed=1 skipped=1 records=3 seconds=1\n"
                       "[jobkit] START job=player_game_summary dates=1 workers=1 pid=2\n"
                       "[jobkit] DATE 2024-11-02 ok records=7 seconds=0.1\n")
    assert (p.total, p.done, p.ok, p.failed, p.completed, p.failed_dates) == (1, 1, 1, 0, False, [])


def test_format_progress_line_exact_example():
    p = Progress(format="jobkit", total=1537, done=612, ok=610, failed=2, records=51234, rate_per_min=2.1,
                 eta=dt.datetime(2026, 1, 3, 21, 55, 41, tzinfo=dt.timezone.utc))
    assert format_progress_line("player_game_summary", p, NOW) == (
        "2026-01-03T14:35:00Z phase=player_game_summary 612/1537 days (39.8%) ok=610 failed=2 records=51,234 "
        "rate=2.1 d/min eta=2026-01-03T21:55Z")
    empty = Progress()
    assert format_progress_line("p", empty, NOW) == (
        "2026-01-03T14:35:00Z phase=p 0/? days ok=0 failed=0 records=0 rate=? d/min eta=unknown")


def test_rate_and_eta_from_observed_progress_when_the_log_states_none():
    parser = parser_for("jobkit")
    t0 = NOW
    parser.feed("[jobkit] START job=x dates=100 workers=1 pid=1", t0)
    for i in range(10):  # one date every 30 s = 2 days/min
        parser.feed(f"[jobkit] DATE 2024-10-{i + 1:02d} ok records=1 seconds=30", t0 + dt.timedelta(seconds=30 * i))
    p = parser.snapshot(t0 + dt.timedelta(seconds=300))
    assert p.rate_per_min == pytest.approx(2.0)
    assert p.eta == t0 + dt.timedelta(seconds=270) + dt.timedelta(minutes=45)
    assert p.last_progress_at == t0 + dt.timedelta(seconds=270)


# --- regex formats and lookup ---------------------------------------------------------------------------------------
CUSTOM = {"mine": {"progress": r"done (?P<done>[\d,]+) of (?P<total>[\d,]+)",
                   "date_ok": r"OK (?P<date>\d{4}-\d\d-\d\d) rows=(?P<records>\d+)",
                   "date_failed": r"FAIL (?P<date>\d{4}-\d\d-\d\d): (?P<error>.*)",
                   "complete": r"^ALL DONE status=(?P<status>\w+)"}}


def test_regex_format_parses_and_is_auto_detected():
    text = ("hello\nOK 2024-10-22 rows=10\nFAIL 2024-10-23: boom\ndone 2 of 1,000\nOK 2024-10-24 rows=5\n"
            "ALL DONE status=partial\n")
    for fmt in ("mine", "auto"):
        p = parse(text, fmt, CUSTOM)
        assert p.format == "mine"
        assert (p.total, p.done, p.ok, p.failed, p.records) == (1000, 3, 2, 1, 15)
        assert p.failed_dates == [D("2024-10-23")] and p.errors == ["2024-10-23: boom"]
        assert p.completed and p.complete_status == "partial"


def test_regex_format_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"formats.mine.progress: unknown group 'dun'"):
        RegexFormat.from_mapping("mine", {"progress": r"(?P<dun>\d+)"})
    with pytest.raises(ConfigError, match=r"formats.mine.date_ok: invalid regular expression"):
        RegexFormat.from_mapping("mine", {"progress": "x", "date_ok": "(unclosed"})
    with pytest.raises(ConfigError, match=r"formats.mine.progres: unknown key"):
        RegexFormat.from_mapping("mine", {"progres": "x"})
    with pytest.raises(ConfigError, match=r"formats.mine.date_failed: needs a \(\?P<date>"):
        RegexFormat.from_mapping("mine", {"progress": "x", "date_failed": "FAIL"})
    with pytest.raises(ConfigError, match="built in"):
        RegexFormat.from_mapping("jobkit", {"progress": "x"})


def test_parser_for_unknown_name():
    with pytest.raises(UsageError, match=r"unknown progress format 'nope' \(known: auto, jobkit, legacy-sequential, "
                                         r"legacy-parallel, mine\)"):
        parser_for("nope", CUSTOM)


def test_auto_detection_after_unrelated_lines():
    p = parse("some banner\nloading config\n" + PARALLEL)
    assert p.format == "legacy-parallel" and p.done == 612 and p.lines == 14
    assert parse("nothing to see\n").format == "unknown"


# --- the follow loop with real processes -----------------------------------------------------------------------------
# Prints the first part of a job's log, waits for the `go` file, prints the rest and exits 1: the test decides when
# the job goes on (after a tick has seen it half done), so the machine's speed cannot change what the ticks see.
TWO_PART_JOB = ("import os, sys, time\n"
                "first, rest, go = sys.argv[1:4]\n"
                "sys.stdout.buffer.write(open(first, 'rb').read()); sys.stdout.flush()\n"
                "deadline = time.monotonic() + 60  # a broken follow fails the test instead of hanging it\n"
                "while not os.path.exists(go) and time.monotonic() < deadline: time.sleep(0.01)\n"
                "sys.stdout.buffer.write(open(rest, 'rb').read()); sys.stdout.flush()\n"
                "sys.exit(1)\n")


def test_follow_a_jobkit_phase_to_the_end(tmp_path):
    full = tmp_path / "full.log"
    with open(full, "wb") as out:
        subprocess.run([PY, str(FAKES / "jobkit_fake.py"), "--days", "40", "--sleep", "0", "--fail", "2024-10-25"],
                       stdout=out, check=False)
    whole = full.read_bytes().splitlines(keepends=True)
    cut = [i for i, line in enumerate(whole) if line.startswith(b"[jobkit] DATE ")][19] + 1
    (tmp_path / "first").write_bytes(b"".join(whole[:cut]))
    (tmp_path / "rest").write_bytes(b"".join(whole[cut:]))
    go = tmp_path / "go"
    log = tmp_path / "phase.log"
    h = launch([PY, "-c", TWO_PART_JOB, str(tmp_path / "first"), str(tmp_path / "rest"), str(go)], log)
    ticks = []

    def tick(p, n):
        ticks.append((p.done, n))
        if p.done == 20:
            go.touch()

    res = follow(h, LogFollower(log), parser_for("auto"), on_tick=tick, poll=0.1)
    assert res.exit.returncode == 1 and res.reason is None and res.progress.completed
    p = res.progress
    assert (p.format, p.total, p.done, p.ok, p.failed, p.complete_status) == ("jobkit", 40, 40, 39, 1, "failed")
    assert p.failed_dates == [D("2024-10-25")]
    assert go.exists() and 20 in [d for d, _ in ticks]  # a tick saw the job half done, while it waited for it


def test_follow_a_legacy_job_that_dies_without_its_summary(tmp_path):
    log = tmp_path / "phase.log"
    h = launch([PY, str(FAKES / "legacy_parallel.py"), "--days", "30", "--fail", "2024-10-30", "--no-summary",
                "--no-newline-at-end"], log)
    res = follow(h, LogFollower(log), parser_for("auto"), poll=0.2)
    assert res.exit.returncode == 0 and not res.progress.completed  # exit 0, yet incomplete: no completion block
    p = res.progress
    assert (p.format, p.done, p.ok, p.failed, p.records) == ("legacy-parallel", 30, 29, 1, 29 * 1234)
    assert p.failed_dates == [D("2024-10-30")] and log_status(p) == "incomplete"


def test_follow_stops_when_on_tick_says_so_and_leaves_the_process_running(tmp_path):
    log = tmp_path / "phase.log"
    h = launch([PY, str(FAKES / "legacy_sequential.py"), "--days", "50", "--hang-after", "5"], log)
    try:
        res = follow(h, LogFollower(log), parser_for("auto"),
                     on_tick=lambda p, n: "stalled" if p.done >= 5 and n == 0 else None, poll=0.1)
        assert res.reason == "stalled" and res.exit is None and res.progress.ok == 5
        assert h.popen.poll() is None
    finally:
        assert stop(h, grace=5).signal_sent == "SIGTERM"


def test_follow_is_woken_by_the_exit_not_by_its_poll(tmp_path):
    log = tmp_path / "phase.log"
    h = launch([PY, "-c", "import time; print('[jobkit] START job=x dates=1 workers=1 pid=1', flush=True); "
                          "time.sleep(0.5); print(repr(time.time()), flush=True)"], log)
    poll = 120.0  # a follow that waited for its next poll would return ~2 minutes late; half of that is generous
    res = follow(h, LogFollower(log), parser_for("auto"), poll=poll)
    exited = float(log.read_text().splitlines()[-1])
    assert res.exit.returncode == 0 and res.exit.ended_at - exited < poll / 2
    assert not res.progress.completed


def test_read_into_final_reads_a_large_backlog(tmp_path):
    log = tmp_path / "big.log"
    line = "[jobkit] DATE 2024-10-22 ok records=1 seconds=0.1 " + "x" * 200 + "\n"
    write(log, "[jobkit] START job=x dates=200000 workers=1 pid=1\n" + line * 200_000)
    parser = parser_for("auto")
    n = read_into(LogFollower(log), parser, final=True)  # one call takes it all: nothing is left for a next poll
    assert n == 200_001 and parser.snapshot().lines == 200_001


# --- review: malformed numbers, thousands separators in every count, bounded memory -----------------------------
def test_a_malformed_number_never_crashes_the_parser():
    p = parse("[jobkit] START job=x dates=10 workers=2 pid=1\n"
              "[jobkit] DATE 2024-10-22 ok records=31x2 seconds=0.4\n"  # garbled (interleaved writes)
              "[jobkit] DATE 2024-10-23 ok records=5 seconds=0.4\n"
              "2026-01-03 14:35:00,124 - INFO - PROGRESS: 612/1,537 days (39.8%)\n"
              "2026-01-03 14:35:00,124 - INFO -   ETA: 99999999999 min\n")
    assert p.done == 2 and p.records == 5


def test_thousands_separators_in_jobkit_progress_and_legacy_rate_eta():
    p = parse("[jobkit] START job=x dates=1,537 workers=2 pid=1\n"
              "[jobkit] PROGRESS 1,212/1,537 days ok=1,200 failed=2 skipped=10 records=51,234 rate=1,234.50/min "
              "eta=unknown\n")
    assert (p.done, p.total, p.ok, p.records) == (1212, 1537, 1200, 51234)
    assert p.rate_per_min == pytest.approx(1234.5)
    lines = ("2026-01-03 14:35:00,000 - INFO - PROGRESS: 612/1,537 days (39.8%)\n"
             "2026-01-03 14:35:00,000 - INFO -   Rate: 1,234.5 days/min\n"
             "2026-01-03 14:35:00,000 - INFO -   ETA: 1,440.0 min\n")
    p = parse(lines)
    assert p.rate_per_min == pytest.approx(1234.5)
    t = dt.datetime.fromisoformat("2026-01-03T14:35:00").astimezone(dt.timezone.utc)
    assert p.eta == t + dt.timedelta(days=1)


def test_read_into_final_feeds_a_huge_log_without_holding_it_in_memory(tmp_path):
    import tracemalloc

    log = tmp_path / "huge.log"
    line = b"[jobkit] DATE 2024-10-22 ok records=312 seconds=0.41 " + b"x" * 400 + b"\n"
    with open(log, "wb") as f:
        for _ in range(10):
            f.write(line * 5_000)  # ~23 MB, 50,000 lines
    parser = parser_for("jobkit")
    tracemalloc.start()
    with LogFollower(log) as follower:
        n = read_into(follower, parser, NOW, final=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 50_000 and parser.snapshot(NOW).done == 1
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.0f} MB while reading a {log.stat().st_size / 2**20:.0f} MB log"


def test_rotation_with_a_backlog_larger_than_one_read_loses_no_line(tmp_path):
    log = tmp_path / "phase.log"
    write(log, "".join(f"[jobkit] DATE 2024-10-22 ok records={i} seconds=0.1 {'x' * 200}\n" for i in range(20_000)))
    follower = LogFollower(log)
    seen = follower.read_lines(1 << 20)  # opened and partly read: ~3.5 MB of backlog left
    log.rename(tmp_path / "phase.log.1")  # rotated by rename, a new log started
    write(log, "[jobkit] COMPLETE status=ok days=1 ok=1 failed=0 skipped=0 records=1 seconds=1\n")
    while more := follower.read_lines(1 << 20):
        seen += more
    assert seen[-1].startswith("[jobkit] COMPLETE")
    numbers = [int(s.split("records=")[1].split()[0]) for s in seen if " DATE " in s]
    assert numbers == list(range(20_000))
