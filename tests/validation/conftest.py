"""Fixtures of the validation tests; the tables they build are in valdata.py."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    d = tmp_path / "suites"
    d.mkdir()
    return d
