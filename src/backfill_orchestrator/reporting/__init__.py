"""What a run did, for people and dashboards: one run view (view.py) read from state.sqlite and redacted once,
rendered by `backfill status` (status.py), the reports (report.py: report_md.py, report_html.py with charts.py)
and the Prometheus textfile metrics (metrics.py). Renderers import the view, never each other."""
