"""Stopping a detached server that this very process started (what `grewkit run` does)."""

import os
import signal
import subprocess
import sys
import time

from grewkit.annotate.server import _ended


def test_a_terminated_child_counts_as_ended_although_it_is_still_a_zombie():
    # Started and then let go as `annotate serve --detach` does (the Popen object is dropped).
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    pid = child.pid
    child = None
    assert not _ended(pid)
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while not _ended(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    # kill(pid, 0) alone finds the unreaped zombie: the stop then waited its whole timeout and killed it.
    assert _ended(pid)
    assert _ended(pid)  # already reaped: asked again, still ended


def test_a_process_that_is_not_our_child_is_ended_only_once_it_is_gone():
    # Our parent is alive and is not our child.
    assert not _ended(os.getppid())
