"""The coverage strips escape a column's label once and reuse it in every tooltip: the label still reaches the SVG
escaped, wherever it appears, and the runs of dates are the data's."""
from __future__ import annotations

import datetime as dt
import re

from backfill_orchestrator.reporting.charts import coverage_strips_svg


def test_a_label_with_markup_is_escaped_in_its_text_and_every_tooltip():
    start = dt.date(2024, 1, 1)
    points = [(start + dt.timedelta(days=i), 100.0 if i % 3 else 10.0) for i in range(9)]
    svg = coverage_strips_svg("gate", [("a<b & 'c\"", points, 50.0)], start, start + dt.timedelta(days=9),
                              missing=[start + dt.timedelta(days=9)])
    assert "a<b" not in svg and "'c\"" not in svg
    label = "a&lt;b &amp; &#x27;c&quot;"
    titles = re.findall(r"<title>([^<]*)</title>", svg)[1:]  # the first: the chart's own
    assert titles == [f"{label} 2024-01-01: below threshold", f"{label} 2024-01-02..2024-01-03 (2 dates): at or above "
                      "threshold", f"{label} 2024-01-04: below threshold", f"{label} 2024-01-05..2024-01-06 (2 dates): "
                      "at or above threshold", f"{label} 2024-01-07: below threshold", f"{label} 2024-01-08..2024-01-09 "
                      "(2 dates): at or above threshold", f"{label} 2024-01-10: no rows, expected"]
    assert f">{label}</text>" in svg
