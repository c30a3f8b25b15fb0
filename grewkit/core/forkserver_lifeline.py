"""Imported by the fork server only (``WORKER_PRELOAD``): the fork server dies with the runner.

An import is the one hook multiprocessing offers inside the fork server; importing this anywhere else
would tie that process to its own parent, so nothing else imports it.
"""

from grewkit.core.lifeline import die_with_parent

die_with_parent()
