"""The stage interface: a stage is a planned set of independent units of work.

A stage says which units exist (``plan``) and how to process one (``process``), returning
rows for its output manifests. Everything else (skipping done units, recording failures,
surviving kill -9, progress, merging rows into manifests) belongs to the runner, so every
stage gets the same guarantees.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.registry import Registry, resolve

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

    # -- Provenance: what a unit consumes, so that the runner can tell a done unit from a stale one.

    #: settings of the stage's section that change how fast it runs but not what it writes
    volatile_settings: ClassVar[tuple[str, ...]] = ()

    def needs(self) -> tuple[str, ...]:
        """Upstream stages whose units' rows this stage reads; it refuses to start while they are incomplete."""
        return ()

    def requires(self, unit: Unit, upstream: dict[str, list[Unit]]) -> dict[str, list[str]]:
        """Per stage of ``needs()``, the keys of the upstream units (given their current plans) whose rows
        ``unit`` reads. Their recorded outputs become part of this unit's inputs."""
        return {}

    def input_files(self, unit: Unit) -> list[str]:
        """Files ``unit`` reads that no upstream stage vouches for (a manifest written by other means);
        they are fingerprinted by content."""
        return []

    def settings_fingerprint(self) -> Any:
        """What of the settings goes into every unit's inputs: the stage's own section, less the volatile keys."""
        try:
            section = self.project.settings.section(self.name)
        except GrewkitError:
            return None
        values = dataclasses.asdict(section) if dataclasses.is_dataclass(section) else section
        return {k: v for k, v in values.items() if k not in self.volatile_settings}


# Stage name -> "module:Class", in pipeline order. Contract: a ``Stage`` subclass, built by the
# runner as ``cls(project)`` once per worker process.
STAGES: Registry[type[Stage]] = Registry(
    "stage",
    {
        "ingest": "grewkit.ingest.stage:IngestStage",
        "detect": "grewkit.detect.stage:DetectStage",
        "track": "grewkit.track.stage:TrackStage",
        "render": "grewkit.render.stage:RenderStage",
    },
)


def stage_class(ref: str) -> type[Stage]:
    """Resolve a stage by registered name or by ``module:Class`` reference."""
    if ref in STAGES or ":" not in ref:
        return STAGES.get(ref)
    return resolve(ref, kind="stage", name=ref)
