"""``grewkit import opengait``: register an OpenGait-layout dataset (e.g. CASIA-B) as grewkit sequences.

Every pickle goes through the restricted unpickler before anything is written, so one
malicious or broken file stops the import with its name and leaves the project unchanged.
By default the manifest points at the original ``.pkl`` files (no copy); ``copy=True`` stores
each array as ``.npy`` under ``PROJECT/renders/<dataset>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from grewkit.core.arrays import save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.interop.opengait import iter_sequences
from grewkit.interop.register import safe_id, upsert


def silhouette_modality(array: np.ndarray, path: Path) -> str:
    """``sil64`` / ``sil128``: silhouettes are named by their height."""
    if array.ndim != 3 or array.dtype != np.uint8:
        raise GrewkitError(
            f"expected silhouettes as a uint8 array (T, H, W), got {array.dtype} {array.shape}", path=path
        )
    if array.shape[0] == 0:
        raise GrewkitError("empty sequence (0 frames)", path=path)
    return f"sil{array.shape[1]}"


@dataclass(frozen=True)
class ImportSummary:
    sequences: int
    identities: int
    frames: int
    modalities: dict[str, int]


def import_opengait(
    project: Project, root: str | Path, *, dataset: str = "casiab", copy: bool = False, show_progress: bool = True
) -> ImportSummary:
    seqs = list(iter_sequences(root))
    rows: list[dict] = []
    seen: dict[str, Path] = {}
    with progress_bar(f"import {dataset}", total=len(seqs), unit="seq", enabled=show_progress) as advance:
        for s in seqs:
            array = s.load()  # the restricted unpickler: refuses anything but numpy arrays, naming the file
            source = s.files[0]
            modality = silhouette_modality(array, source)
            sequence_id = safe_id(dataset, s.identity, s.type, s.view)
            if sequence_id in seen:
                raise GrewkitError(f"sequence id {sequence_id!r} also names {seen[sequence_id]}", path=s.folder)
            seen[sequence_id] = s.folder
            path, digest = source.resolve(), sha256_file(source)
            rows.append(
                {
                    "sequence_id": sequence_id,
                    "modality": modality,
                    "tracklet_id": None,
                    "identity_id": s.identity,
                    "camera_id": safe_id(s.view),
                    "view": s.view,
                    "condition": s.type,
                    "path": project.relative(path),
                    "frames": int(array.shape[0]),
                    "height": int(array.shape[1]),
                    "width": int(array.shape[2]),
                    "sha256": digest,
                }
            )
            advance(1)
    if copy:  # only once every file has passed the unpickler, so a refused file leaves no stray copies
        for s, row in zip(seqs, rows):
            path = project.folder("renders") / safe_id(dataset) / f"{row['sequence_id']}.npy"
            row["sha256"] = save_array(path, s.load())
            row["path"] = project.relative(path)
    table = pa.Table.from_pylist(rows)
    upsert(project, "sequences", table)
    modalities: dict[str, int] = {}
    for r in rows:
        modalities[r["modality"]] = modalities.get(r["modality"], 0) + 1
    return ImportSummary(
        sequences=len(rows),
        identities=len({r["identity_id"] for r in rows}),
        frames=sum(r["frames"] for r in rows),
        modalities=modalities,
    )
