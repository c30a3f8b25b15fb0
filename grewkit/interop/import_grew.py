"""``grewkit import grew``: register a GREW-style release (ours or GREW's own) as sequences and splits.

Without the answer key, test probes and distractors have no identity (as published) and
public identities are namespaced per set (GREW numbers train and test identities from 00001
each). With ``key_dir`` (the folder ``grewkit export grew`` wrote apart), the original sequence
ids, identities and cameras come back: export then import is the identity round trip.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from grewkit.core.arrays import load_array, save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.interop.grew import iter_release, read_frames, read_pose2d_csv
from grewkit.interop.pixels import IMAGE_SUFFIXES, is_gei, is_silhouette
from grewkit.interop.register import safe_id, upsert


@dataclass(frozen=True)
class GrewImport:
    sequences: int
    files: int
    counts: dict[str, int]
    with_key: bool


def _read_key(key_dir: Path) -> dict[str, dict]:
    path = Path(key_dir) / "answer_key.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise GrewkitError(f"cannot read the answer key ({exc.strerror})", path=path) from None
    if rows and "name" not in rows[0]:
        raise GrewkitError("not a grewkit answer key (no 'name' column)", path=path)
    return {r["name"]: {k: (v or None) for k, v in r.items()} for r in rows}


def _modalities(folder: Path) -> dict[str, tuple[str, Path | list[Path]]]:
    """modality -> (kind, source) of one sequence folder."""
    found: dict[str, tuple[str, Path | list[Path]]] = {}
    loose = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not is_gei(p.stem)
    )
    if loose:  # GREW's own release: frames directly in the sequence folder
        found["sil"] = ("frames", loose)
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        frames = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if frames:
            found[sub.name] = ("frames", frames)
    for f in sorted(p for p in folder.iterdir() if p.is_file()):
        if is_gei(f.stem) and f.suffix.lower() in IMAGE_SUFFIXES:
            found[f.stem] = ("image", f)
        elif f.name == "pose2d.csv":
            found["pose2d"] = ("pose2d", f)
        elif f.suffix == ".npy":
            found[f.stem] = ("array", f)
        elif f.suffix == ".pkl":
            found["sil"] = ("array", f)  # OpenGait-pretreated silhouettes
    return found


def _shape(modality: str, array: np.ndarray) -> tuple[int, int, int]:
    """(frames, height, width) as the sequences manifest records them (render's convention)."""
    if is_gei(modality):
        return 1, int(array.shape[0]), int(array.shape[1])
    if (is_silhouette(modality) or modality == "flow") and array.ndim >= 3:
        return int(array.shape[0]), int(array.shape[1]), int(array.shape[2])
    return int(array.shape[0]) if array.ndim else 1, 0, 0


def import_grew(
    project: Project,
    root: str | Path,
    *,
    dataset: str = "grew",
    key_dir: str | Path | None = None,
    show_progress: bool = True,
) -> GrewImport:
    root = Path(root)
    key = _read_key(Path(key_dir)) if key_dir else None
    release = list(iter_release(root))
    renders = project.folder("renders") / safe_id(dataset)
    seq_rows: list[dict] = []
    split_rows: list[dict] = []
    pending: list[tuple[Path, np.ndarray, dict]] = []  # arrays to store once everything has been read
    with progress_bar(f"import {dataset}", total=len(release), unit="seq", enabled=show_progress) as advance:
        for r in release:
            if key is not None:
                if r.name not in key:
                    raise GrewkitError(f"sequence {r.name!r} is not in the answer key", path=r.folder)
                k = key[r.name]
                sequence_id, identity, camera = k["sequence_id"], k["identity_id"], k["camera_id"]
            else:
                sequence_id = safe_id(dataset, r.name)
                identity = safe_id(dataset, r.split, r.identity) if r.identity else None
                camera = None
            modalities = _modalities(r.folder)
            if not modalities:
                raise GrewkitError("no silhouettes, GEI, flow or pose files in the sequence folder", path=r.folder)
            for name, (kind, source) in sorted(modalities.items()):
                row = {
                    "sequence_id": sequence_id,
                    "tracklet_id": None,
                    "identity_id": identity,
                    "camera_id": camera,
                    "view": None,
                    "condition": None,
                }
                if kind == "frames":
                    array = read_frames(source)
                    modality = name if is_silhouette(name) else f"sil{array.shape[1]}"
                elif kind == "image":
                    array = read_frames([source])[0]
                    modality = name
                elif kind == "pose2d":
                    array, _, _ = read_pose2d_csv(source)
                    modality = "pose2d"
                else:
                    array = load_array(source)
                    modality = f"sil{array.shape[1]}" if name == "sil" else name
                frames, height, width = _shape(modality, array)
                row.update({"modality": modality, "frames": frames, "height": height, "width": width})
                if kind == "array":
                    row["path"], row["sha256"] = project.relative(source), sha256_file(source)
                else:  # frames, images and CSV become .npy so that load_array reads them
                    pending.append((renders / modality / f"{sequence_id}.npy", array, row))
                seq_rows.append(row)
            split_rows.append(
                {
                    "sequence_id": sequence_id,
                    "identity_id": identity,
                    "camera_id": camera,
                    "split": r.split,
                    "role": r.role,
                }
            )
            advance(1)
    for path, array, row in pending:
        row["sha256"] = save_array(path, array)
        row["path"] = project.relative(path)
    upsert(project, "sequences", pa.Table.from_pylist(seq_rows))
    upsert(project, "splits", pa.Table.from_pylist(split_rows))
    counts: dict[str, int] = {}
    for s in split_rows:
        k = s["split"] if not s["role"] else f"{s['split']} {s['role']}"
        counts[k] = counts.get(k, 0) + 1
    return GrewImport(sequences=len(split_rows), files=len(seq_rows), counts=counts, with_key=key is not None)
