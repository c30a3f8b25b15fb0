"""The project folder: settings file, manifests and the folders the stages write into."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from grewkit.core import manifests
from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError
from grewkit.core.settings import Settings, default_toml

SETTINGS_FILE = "grewkit.toml"
LAYOUT = {
    "manifests": "Parquet manifests, one per schema in schemas/.",
    "media": "Registered and generated footage.",
    "renders": "Per-sequence silhouettes, GEIs, flow and poses.",
    "logs": "Run logs of the stages.",
    "state": "Per-stage unit records (done, failed, plan) that make stages resumable.",
    "ground_truth": "Exact ground truth of generated footage (grewkit synth), in the pipeline's manifest schemas.",
    "reports": "Dataset statistics and figures written by `grewkit report`.",
}


@dataclass(frozen=True)
class Project:
    root: Path

    def __post_init__(self):
        # One project, one root: the paths that units record (videos, boxes) must not depend on the
        # folder a command was started from, or a rerun from elsewhere would see every unit as stale.
        object.__setattr__(self, "root", Path(os.path.abspath(self.root)))

    @classmethod
    def init(cls, root: str | Path, *, name: str | None = None) -> Project:
        root = Path(root)
        settings_path = root / SETTINGS_FILE
        if settings_path.exists():
            raise GrewkitError("already a grewkit project (grewkit.toml exists); nothing changed", path=root)
        if root.exists() and not root.is_dir():
            raise GrewkitError("exists and is not a folder", path=root)
        text = default_toml(name or root.resolve().name)
        Settings(tomllib.loads(text), settings_path)  # the defaults must load back
        for folder in LAYOUT:
            (root / folder).mkdir(parents=True, exist_ok=True)
        write_text(settings_path, text)
        return cls(root)

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        if not root.is_dir():
            raise GrewkitError("project folder does not exist; create one with `grewkit init`", path=root)
        if not (root / SETTINGS_FILE).is_file():
            raise GrewkitError(f"not a grewkit project (no {SETTINGS_FILE}); create one with `grewkit init`", path=root)
        project = cls(root)
        _ = project.settings  # validate now, so a broken file fails before any work starts
        return project

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def settings(self) -> Settings:
        # Re-read on every access is cheap and keeps worker processes in step with edits.
        return Settings.load(self.settings_path)

    def folder(self, name: str) -> Path:
        if name not in LAYOUT:
            raise GrewkitError(f"unknown project folder {name!r}")
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def manifests_dir(self) -> Path:
        return self.folder("manifests")

    def state_dir(self, stage: str) -> Path:
        return self.folder("state") / stage

    def relative(self, path: str | Path) -> str:
        """A path as stored in manifests: relative to the project when inside it, else absolute."""
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    def stored(self, path: str | Path) -> str:
        """Like ``relative`` but without following symlinks (a link's own name can carry its camera)."""
        path = Path(os.path.abspath(path))
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        return manifests.read_manifest(self.manifests_dir, name, columns)

    def write(self, name: str, table: pa.Table) -> Path:
        return manifests.write_manifest(self.manifests_dir, name, table)

    def has(self, name: str) -> bool:
        return manifests.exists(self.manifests_dir, name)
