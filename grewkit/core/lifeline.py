"""Processes that work for the runner die with it, instead of living on after a kill -9.

On Linux a process can ask the kernel to send it a signal when its parent dies
(``prctl(PR_SET_PDEATHSIG)``). The fork server asks for it against the runner, and each worker
against the fork server, so killing the runner takes the fork server with it, and the fork server
its workers: nothing is left computing units whose results nobody will merge. The request holds for
the thread that started the process: the runner starts its pool from the thread that runs the stage.
Elsewhere (macOS) this is a no-op and workers end when they next find their queue gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> bool:
    """Ask for SIGKILL when the parent dies; exit at once if it already has. True when the kernel agreed."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request: nobody would ever signal us
        os._exit(1)
    return True
