"""The stage interface: a stage is a planned set of independent units of work.

A stage says which units exist (``plan``) and how to process one (``process``), returning
rows for its output manifests. Everything else (skipping done units, recording failures,
surviving kill -9, progress, merging rows into manifests) belongs to the runner, so every
stage gets the same guarantees.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def unit_key(*parts: Any) -> str:
    """A stable, file-name-safe key for a unit: readable where possible, with a hash when cleaning changed it."""
    text = "__".join(str(p) for p in parts)
    clean = _UNSAFE.sub("-", text).strip("-.")[:80] or "unit"
    if clean != text:
        clean += "-" + hashlib.sha1(text.encode()).hexdigest()[:10]
    return clean


@dataclass(frozen=True)
class Unit:
    """One independent piece of work. ``payload`` must be JSON-serialisable: it is recorded in the plan."""

    key: str
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.key or _UNSAFE.search(self.key) or self.key.startswith("."):
            raise GrewkitError(f"unit key {self.key!r} is not file-name safe; build it with unit_key()")


class Stage(ABC):
    """Subclass this for a per-unit stage and register it in ``STAGES``."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]
    unit_noun: ClassVar[str] = "unit"

    def __init__(self, project: Project):
        self.project = project

    @abstractmethod
    def plan(self) -> list[Unit]:
        """All units of the stage, done or not, in a stable order."""

    @abstractmethod
    def process(self, unit: Unit) -> dict[str, pa.Table]:
        """Do one unit's work; return its rows per output manifest. Raise to mark the unit failed."""

    def close(self) -> None:
        """Free per-worker resources (models, open files) when a worker is done with the stage."""


# Stage name -> "module:Class", in pipeline order.
STAGES: dict[str, str] = {
    "ingest": "grewkit.ingest.stage:IngestStage",
    "detect": "grewkit.detect.stage:DetectStage",
    "track": "grewkit.track.stage:TrackStage",

    "render": "grewkit.render.stage:RenderStage",
}


def stage_class(ref: str) -> type[Stage]:
    """Resolve a stage by registered name or by ``module:Class`` reference."""
    target = STAGES.get(ref, ref)
    module, _, attr = target.partition(":")
    if not attr:
        raise GrewkitError(f"unknown stage {ref!r}; known: {', '.join(STAGES) or 'none yet'}")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise GrewkitError(f"cannot load stage {ref!r}: {exc}") from None
