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


@pytest.fixture(scope="session")
def ls_server(tmp_path_factory):
    """One real Label Studio server for the whole test session (its first start migrates for a minute or two)."""
    from grewkit.annotate.backends.labelstudio import label_studio_executable
    from grewkit.annotate.server import LabelStudioServer
    from grewkit.core.errors import GrewkitError

    if label_studio_executable() is None:
        pytest.skip("Label Studio is not installed here (make label-studio)")
    # GREWKIT_TEST_LABEL_STUDIO_DIR reuses an already migrated server folder between local runs;
    # CI uses a fresh one.
    reuse = os.environ.get("GREWKIT_TEST_LABEL_STUDIO_DIR")
    root = Path(reuse).resolve() if reuse else tmp_path_factory.mktemp("labelstudio")
    server = LabelStudioServer(root / "server", document_root=root)
    try:
        server.start(timeout=420)
    except GrewkitError as exc:  # a port race with another process: once more on a new free port
        if "another server answers" not in str(exc):
            raise
        server = LabelStudioServer(root / "server", document_root=root)
        server.start(timeout=420)
    yield server
    server.stop()


def pytest_collection_modifyitems(items):
    # Every test that uses the real Label Studio server is a `server` test, so `-m "not server"`
    # (make test-fast) leaves them out without each test repeating the marker.
    for item in items:
        if "ls_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)
