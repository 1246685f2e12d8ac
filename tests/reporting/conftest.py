"""Fixtures of the reporting tests: a recorded run (see runfixture.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from runfixture import RUN_ID, write_demo_run


@pytest.fixture
def demo_run(tmp_path: Path) -> Path:
    return write_demo_run(tmp_path / "logs" / "runs" / RUN_ID)
