"""The annotation-backend interface: where tasks go and where annotations come back from.

It follows fiftyone's annotation backends: the toolkit talks to a backend only through
``ensure_project``, ``push_tasks``, ``pull`` and ``summary``, so another tool (CVAT, a lab's own web app) can replace Label Studio
by adding one module beside ``labelstudio.py`` and one line in ``BACKENDS``.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from grewkit.core.errors import GrewkitError
from grewkit.core.wording import counted


@dataclass(frozen=True)
class TaskSpec:
    """One task as grewkit wants it on the server; ``key`` is stable across pushes."""

    key: str
    data: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        text = json.dumps({"data": self.data, "predictions": self.predictions}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PushResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_annotated: int = 0
    retries: int = 0
    note: str | None = None  # what the campaign's rounds made of this push

    def line(self) -> str:
        return (
            f"{counted(self.created, 'task')} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.kept_annotated} changed but kept (already annotated; --force to replace)"
            + (f", {self.retries} batch retries after server errors" if self.retries else "")
            + (f"; {self.note}" if self.note else "")
        )


@dataclass(frozen=True)
class RemoteAnnotation:
    annotation_id: str
    task_key: str
    task_id: int
    annotator: str
    created_at: datetime
    updated_at: datetime
    was_cancelled: bool
    result: list
    task_data: dict
    lead_time_s: float | None = None  # seconds on the task as the labelling page measured it; None: not recorded


@dataclass(frozen=True)
class PullResult:
    """``task_ids``: the tasks whose annotations are all in ``annotations`` (every task on a full pull)."""

    annotations: list[RemoteAnnotation]
    task_ids: set[int]
    complete: bool = True


class AnnotationBackend(ABC):
    @abstractmethod
    def ensure_project(
        self,
        *,
        title: str,
        config_xml: str,
        media_dir: Path | None,
        project_id: int | None = None,
        annotators_per_task: int = 1,
    ) -> int:
        """Create the project (or find the one with this title/id) and bring its config up to date."""

    @abstractmethod
    def push_tasks(
        self,
        project_id: int,
        tasks: list[TaskSpec],
        *,
        batch_size: int,
        force: bool = False,
        progress: Callable[[int], None] = lambda n=1: None,
    ) -> PushResult:
        """Create new tasks, update changed ones in place; never duplicate a key."""

    @abstractmethod
    def pull(self, project_id: int, *, since: datetime | None = None) -> PullResult:
        """Every annotation (skips included) of the tasks changed after ``since`` (all tasks when None),
        with its task's key and data."""

    @abstractmethod
    def summary(self, project_id: int) -> dict[str, int]:
        """Counts: tasks, done (annotated), skipped (only skips), annotations."""

    @property
    def annotation_prefix(self) -> str:
        """What this backend's annotation ids start with (ids are unique across servers)."""
        return ""


class ServerUnavailable(GrewkitError):
    """The server did not answer or answered with a server error: worth waiting for and retrying."""
