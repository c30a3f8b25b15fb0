from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED_DATA = Path(os.environ.get("GREWKIT_SHARED_DATA", REPO.parent / "shared" / "data"))

# Worker processes import test-only stages from here.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture
def project(tmp_path):
    from grewkit.core.project import Project

    return Project.init(tmp_path / "proj")


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (real test data lives in ../shared/data beside the checkout)")
    return SHARED_DATA
