"""Route what third-party libraries print while a unit runs into the project's logs/ folder.

mediapipe, TensorFlow Lite, absl and protobuf write from C++ straight to file descriptor 2
("Created TensorFlow Lite XNNPACK delegate", "inference_feedback_manager", absl's
"All log messages before absl::InitializeLog()") or through Python warnings
("SymbolDatabase.GetPrototype() is deprecated"), once per model or worker, so a render with
many tracklets fills the terminal. Reassigning ``sys.stderr`` does not reach C++ code: the file
descriptors themselves are pointed at ``logs/<stage>.log`` for the duration of a unit, and the
progress bar's console, when it lives in the same process (the serial executor), is pointed at
a copy of the real terminal so progress and summaries still show.

Nothing is silenced: the log keeps every message, with a header naming the unit and process.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def third_party_output(log_path: Path, *, header: str = "") -> Iterator[None]:
    """Send everything written to stdout/stderr (file descriptors 1 and 2) into ``log_path``.

    Appends (several worker processes share one file; O_APPEND keeps their lines whole) and
    restores the descriptors, ``sys.stdout``/``sys.stderr`` and the progress console on exit,
    also when the body raises.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    log_text = open(os.dup(log_fd), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    terminal = open(os.dup(saved[2]), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    old_streams = sys.stdout, sys.stderr
    console, old_console_file = _progress_console()
    try:
        if header:
            os.write(log_fd, f"== {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()} {header}\n".encode())
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # Python-level writers (warnings, absl's Python handler, print) look up sys.stderr at call
        # time; a progress bar may have replaced it with a proxy that writes to the terminal.
        sys.stdout = sys.stderr = log_text
        if console is not None:
            console.file = terminal
        yield
    finally:
        with contextlib.suppress(Exception):
            log_text.flush()
        sys.stdout, sys.stderr = old_streams
        if console is not None:
            console.file = old_console_file
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(log_fd)
        log_text.close()
        with contextlib.suppress(Exception):
            terminal.flush()
        terminal.close()


def _progress_console():
    """The progress bar's rich console and the file it was set to (None: it follows sys.stderr)."""
    module = sys.modules.get("grewkit.core.progress")
    console = getattr(module, "console", None)
    if console is None:
        return None, None
    return console, getattr(console, "_file", None)
