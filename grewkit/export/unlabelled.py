"""``grewkit export unlabelled``: every kept tracklet's silhouettes, without identities, for self-supervised pretraining.

GaitLU-1M (GaitSSB's pretraining set) gives walking sequences with no labels in OpenGait's
three-level layout; this is the same for a project: ``OUT/<pseudo>/<type>/000/<pseudo>_<type>_000.pkl``
(uint8 (T, H, W), as `grewkit export opengait` writes them), one pseudo-identity folder per
tracklet and one type folder per sequence of it (``000``, ``001``, ...). Pseudo-identities are
numbers in a seeded random order, so neither the folder names nor their order say which
identity, camera, split or time a sequence has; ``partition.json`` lists every folder as
TRAIN_SET with an empty TEST_SET, as GaitLU-1M's does. Where a sequence came from is written
only with ``--key`` (a CSV outside OUT).

A sequence is left out when its tracklet is in the tracklets manifest and was not kept by the
quality filters; sequences of the splits named by ``leave_out`` (e.g. ``test``, so that
pretraining never sees the evaluation sequences) are left out too.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.export.opengait import _json, write_silhouettes
from grewkit.export.selection import ExportSequence, silhouette_modality
from grewkit.export.target import ExportTarget


@dataclass(frozen=True)
class UnlabelledExport:
    sequences: int
    pseudo_identities: int
    left_out: int
    modality: str


def _candidates(
    project: Project, leave_out: tuple[str, ...]
) -> tuple[list[ExportSequence], dict[str, str | None], int]:
    if not project.has("sequences"):
        raise GrewkitError("no sequences manifest: render (or import) sequences first", path=project.manifests_dir)
    dropped_tracklets: set[str] = set()
    if project.has("tracklets"):
        for r in project.read("tracklets", ["tracklet_id", "kept"]).to_pylist():
            if not r["kept"]:
                dropped_tracklets.add(r["tracklet_id"])
    left_split: set[str] = set()
    if leave_out:
        if not project.has("splits"):
            raise GrewkitError(
                "--leave-out needs a splits manifest: run `grewkit split` first", path=project.manifests_dir
            )
        left_split = {
            r["sequence_id"]
            for r in project.read("splits", ["sequence_id", "split"]).to_pylist()
            if r["split"] in leave_out
        }
    out: dict[str, ExportSequence] = {}
    tracklet: dict[str, str | None] = {}
    left = set()
    for r in project.read("sequences", ["sequence_id", "modality", "tracklet_id", "path"]).to_pylist():
        sid = r["sequence_id"]
        if r["tracklet_id"] in dropped_tracklets or sid in left_split:
            left.add(sid)
            continue
        # Identity, camera, split and role stay behind: nothing of them is carried along.
        seq = out.setdefault(sid, ExportSequence(sid, None, None, "unlabelled", None))
        seq.files[r["modality"]] = r["path"]
        tracklet[sid] = tracklet.get(sid) or r["tracklet_id"]
    return [out[k] for k in sorted(out)], tracklet, len(left)


def export_unlabelled(
    project: Project,
    out,
    *,
    modality: str | None = None,
    leave_out: tuple[str, ...] = (),
    key_path: str | Path | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> UnlabelledExport:
    sequences, tracklet, left = _candidates(project, tuple(leave_out))
    if not sequences:
        raise GrewkitError("no sequences to export (every one left out or dropped by the quality filters)")
    modality = silhouette_modality(sequences, modality)
    out_dir = Path(out).resolve()
    if key_path is not None:
        key = Path(key_path).resolve()
        if key == out_dir or out_dir in key.parents:
            raise GrewkitError(
                "the key says where each sequence came from; write it outside the export folder", path=key
            )
    # One group per tracklet; a sequence without a tracklet (imported) is a group of its own.
    groups: dict[str, list[ExportSequence]] = {}
    for s in sequences:
        t = tracklet[s.sequence_id]
        groups.setdefault(t if t is not None else f"\0{s.sequence_id}", []).append(s)
    order = np.random.default_rng(seed).permutation(len(groups))
    width = max(6, len(str(len(groups) - 1)))
    plan = []
    for pseudo, g in zip(order, sorted(groups)):
        label = f"{int(pseudo):0{width}d}"
        for k, s in enumerate(groups[g]):
            plan.append((s, label, f"{k:03d}"))
    plan.sort(key=lambda p: (p[1], p[2]))

    target = ExportTarget(out, "opengait-unlabelled")
    with progress_bar("export unlabelled", total=len(plan), unit="seq", enabled=show_progress) as advance:
        for s, label, seq_type in plan:
            write_silhouettes(
                target,
                (label, seq_type, "000", f"{label}_{seq_type}_000.pkl"),
                project.resolve(s.files[modality]),
                modality,
            )
            advance(1)
    labels = sorted({label for _, label, _ in plan})
    target.write(("partition.json",), _json({"TRAIN_SET": labels, "TEST_SET": []}))
    if key_path is not None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["pseudo_identity", "type", "sequence_id", "tracklet_id"])
        for s, label, seq_type in plan:
            w.writerow([label, seq_type, s.sequence_id, tracklet[s.sequence_id] or ""])
        write_text(key, buf.getvalue())
    target.finish({"layout": "unlabelled", "modality": modality, "sequences": len(plan)})
    return UnlabelledExport(sequences=len(plan), pseudo_identities=len(labels), left_out=left, modality=modality)
