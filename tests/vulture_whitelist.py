"""Names vulture (tests/test_dead_code.py) cannot see being used; each entry says who uses it. Reviewed by hand:
add a name here only with its reason, never to silence a finding in code that is really dead."""
# ruff: noqa
# mypy: ignore-errors
_ = object()

# click calls these overrides of its own classes (cli/__init__.py)
_.format_commands  # click.Group: writes the Commands section of `backfill --help`
_.show  # click.ClickException: prints the error

# the Warehouse interface: tests create and drop their tables through it on both backends
_.drop_table
_.drop_datasets  # BigQueryWarehouse: the test fixtures' cleanup of their prefixed datasets

# nba_pipeline.build.build_all: the jobs' processors over a range in one process, for tests and bench/
_.build_all

# reporting/view.py: read by the Jinja template (report.html.j2) and by report.json, which vulture cannot see
_.earlier  # GateView: earlier results of the same gate in this run
# reporting/view.py: the kinds the report hides on purpose; tests/reporting/test_rep_events.py checks that
# SHOWN and HIDDEN together cover every EventKind exactly once
_.HIDDEN

# --- pending removal by other helpers' branches (issue 9); delete each line when its code is gone ------------------
_.read_holder  # lock.py (core)
_.NotifySummary  # notify.py (core)
_.n_lines  # phase_runner.py (core)
_.is_child  # state.py PhaseRecord column (core: schema v2)
_.log_offset  # state.py PhaseRecord column (core: schema v2)
_.updated_at  # state.py PhaseRecord column (core)
_.exc  # state.py RunState.__exit__ argument (core)
_.RUN_STATUSES  # state.py (core: replaced by runmodel.RunStatus)
_.missing_dates  # validation/checks.py, validation/results.py (NBA metrics / validation)
# runmodel.py: added for the core branch, which wires these in (issue 9 item 1)
_.PHASE_PROCESS_STATES
_.PHASE_ACTIVE
_.PHASE_TERMINAL
_.PHASE_SUCCEEDED
_.RUN_ACTIVE
_.RUN_TERMINAL
_.RUN_SUCCEEDED
_.Reason
