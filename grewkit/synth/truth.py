"""Ground truth of a synthetic project: where it lives, how to read it, and how tracked output maps onto it.

Layout (all under ``PROJECT/ground_truth/``):

- ``manifests/``: cameras, videos, tracklets, boxes, identities, attributes and gt_poses in the
  pipeline's own schemas, so every tool that reads the pipeline's manifests reads these;
- ``synth.json``: the generator's config (seed and settings), enough to redo any frame (``render_mask``);
- ``walks.parquet``: one row per walk with its identity, camera, timing and gait parameters;
- ``masks/<tracklet_id>.npy`` (with ``--masks``): the true visible silhouettes of each GT tracklet.

Ingest computes its own video ids from the file contents, so tracked output joins ground truth
on the video's file path (resolved), not on the id.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core import manifests
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.validate import Problem

GT_FOLDER = "ground_truth"
CONFIG_FILE = "synth.json"


class GroundTruth(Project):
    """The ground-truth folder seen as a project: manifests under ground_truth/manifests, paths relative to PROJECT."""

    @property
    def manifests_dir(self) -> Path:
        path = self.root / GT_FOLDER / "manifests"
        path.mkdir(parents=True, exist_ok=True)
        return path


def ground_truth(project: Project | str | Path) -> GroundTruth:
    root = project.root if isinstance(project, Project) else Path(project)
    if not (root / GT_FOLDER / CONFIG_FILE).is_file():
        raise GrewkitError(f"no synthetic ground truth here (run `grewkit synth {root}` first)", path=root / GT_FOLDER)
    return GroundTruth(root)


def load_config(project: Project | str | Path):
    from grewkit.synth.world import SynthConfig

    gt = ground_truth(project)
    path = gt.root / GT_FOLDER / CONFIG_FILE
    try:
        doc = json.loads(path.read_text())
        return SynthConfig(**doc["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GrewkitError(f"unreadable synth config ({exc})", path=path) from None


def check_ground_truth(project: Project) -> list[Problem]:
    """A validate check: the ground-truth folder, when present, must be valid in the pipeline's schemas."""
    if isinstance(project, GroundTruth) or not (project.root / GT_FOLDER / "manifests").is_dir():
        return []
    from grewkit.core.validate import validate_project

    return validate_project(GroundTruth(project.root))


def _resolved(project: Project, paths: pa.Array) -> pa.Array:
    return pa.array([str(project.resolve(p).resolve()) for p in paths.to_pylist()], pa.string())


def match_tracklets_to_truth(
    project: Project | str | Path, *, iou_threshold: float = 0.5, min_overlap: float = 0.5
) -> pa.Table:
    """Assign each tracked tracklet to the GT identity whose boxes overlap it most.

    For each tracked box, the GT box of the same video file and frame with the highest IoU wins
    when IoU > ``iou_threshold``. A tracklet takes the identity that wins the most of its frames
    when that is more than ``min_overlap`` of them; otherwise identity_id is null. Returns
    (tracklet_id, identity_id, overlap), overlap = that identity's fraction of the tracklet's frames.
    """
    if not isinstance(project, Project):
        project = Project.open(project)
    gt = ground_truth(project)
    tracked = project.read("tracklets", ["tracklet_id", "video_id"])
    out_schema = pa.schema([("tracklet_id", pa.string()), ("identity_id", pa.string()), ("overlap", pa.float32())])
    if tracked.num_rows == 0:
        return out_schema.empty_table()
    videos = project.read("videos", ["video_id", "path"])
    videos = pa.table({"video_id": videos["video_id"], "vpath": _resolved(project, videos["path"])})
    gt_videos = gt.read("videos", ["video_id", "path"])
    gt_videos = pa.table({"gt_video_id": gt_videos["video_id"], "vpath": _resolved(gt, gt_videos["path"])})
    gt_ids = gt.read("identities", ["tracklet_id", "identity_id"]).rename_columns(["gt_tracklet_id", "identity_id"])
    counts: dict[tuple[str, str], int] = {}
    frames_of: dict[str, int] = {}
    tracked_videos = set(tracked["video_id"].to_pylist())
    for _camera, boxes in manifests.iter_partitions(
        project.manifests_dir, "boxes", ["tracklet_id", "video_id", "frame", "x1", "y1", "x2", "y2"]
    ):
        boxes = boxes.filter(pc.is_in(boxes["video_id"], pa.array(sorted(tracked_videos), pa.string())))
        if boxes.num_rows == 0:
            continue
        for t, n in zip(*_value_counts(boxes["tracklet_id"])):
            frames_of[t] = frames_of.get(t, 0) + n
        boxes = boxes.join(videos, "video_id").join(gt_videos, "vpath")
        if boxes.num_rows == 0:
            continue
        truth = _gt_boxes(gt, set(boxes["gt_video_id"].to_pylist()))
        if truth is None:
            continue
        joined = boxes.join(truth, ["gt_video_id", "frame"])
        if joined.num_rows == 0:
            continue
        a = {k: joined[k].to_numpy().astype(np.float64) for k in ("x1", "y1", "x2", "y2")}
        b = {k: joined[f"g{k}"].to_numpy().astype(np.float64) for k in ("x1", "y1", "x2", "y2")}
        iw = np.clip(np.minimum(a["x2"], b["x2"]) - np.maximum(a["x1"], b["x1"]), 0, None)
        ih = np.clip(np.minimum(a["y2"], b["y2"]) - np.maximum(a["y1"], b["y1"]), 0, None)
        inter = iw * ih
        union = (a["x2"] - a["x1"]) * (a["y2"] - a["y1"]) + (b["x2"] - b["x1"]) * (b["y2"] - b["y1"]) - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        keep = iou > iou_threshold
        if not keep.any():
            continue
        hits = joined.filter(pa.array(keep)).append_column("iou", pa.array(iou[keep]))
        hits = hits.join(gt_ids, "gt_tracklet_id")
        # One winner per tracked box: the highest IoU.
        order = pc.sort_indices(
            hits, sort_keys=[("tracklet_id", "ascending"), ("frame", "ascending"), ("iou", "descending")]
        )
        hits = hits.take(order)
        tid, frm, ident = (hits[c].to_pylist() for c in ("tracklet_id", "frame", "identity_id"))
        last = None
        for t, f, i in zip(tid, frm, ident):
            if (t, f) == last:
                continue
            last = (t, f)
            counts[(t, i)] = counts.get((t, i), 0) + 1
    best: dict[str, tuple[str, int]] = {}
    for (t, i), n in sorted(counts.items()):
        if t not in best or n > best[t][1]:
            best[t] = (i, n)
    ids, idents, overlaps = [], [], []
    for t in sorted(tracked["tracklet_id"].to_pylist()):
        total = frames_of.get(t, 0)
        ident, n = best.get(t, (None, 0))
        overlap = n / total if total else 0.0
        ids.append(t)
        idents.append(ident if ident is not None and overlap > min_overlap else None)
        overlaps.append(overlap)
    return pa.table(
        {"tracklet_id": ids, "identity_id": pa.array(idents, pa.string()), "overlap": pa.array(overlaps, pa.float32())},
        schema=out_schema,
    )


def _value_counts(column: pa.ChunkedArray) -> tuple[list, list]:
    vc = pc.value_counts(column)
    return vc.field("values").to_pylist(), vc.field("counts").to_pylist()


def _gt_boxes(gt: GroundTruth, video_ids: set[str]) -> pa.Table | None:
    parts = []
    for _, t in manifests.iter_partitions(
        gt.manifests_dir, "boxes", ["tracklet_id", "video_id", "frame", "x1", "y1", "x2", "y2"]
    ):
        t = t.filter(pc.is_in(t["video_id"], pa.array(sorted(video_ids), pa.string())))
        if t.num_rows:
            parts.append(t)
    if not parts:
        return None
    t = pa.concat_tables(parts)
    return t.rename_columns(["gt_tracklet_id", "gt_video_id", "frame", "gx1", "gy1", "gx2", "gy2"])


def render_mask(
    project: Project | str | Path, camera: str, frame: int, identity: str, *, visible: bool = True
) -> np.ndarray:
    """The true silhouette (height x width, bool) of ``identity`` in ``camera`` at 0-based ``frame``.

    ``frame`` counts from the camera's first frame (across segment files). With ``visible`` the
    parts hidden by nearer people, cars and occluders are removed; else the whole body inside the
    frame. All False when the identity is not in that frame.
    """
    from grewkit.synth.camera_view import mask_of

    config = load_config(project)
    cams = [config.camera_id(k) for k in range(config.cameras)]
    if camera not in cams:
        raise GrewkitError(f"unknown synthetic camera {camera!r}; cameras: {', '.join(cams)}")
    if not 0 <= frame < config.n_frames:
        raise GrewkitError(f"frame {frame} outside the video (0..{config.n_frames - 1})")
    renderer = _renderer(config, cams.index(camera))
    out = np.zeros((config.height, config.width), bool)
    for index, walk in renderer.walks:
        if walk.person.identity_id == identity:
            out |= mask_of(renderer, frame, index, visible=visible)
    return out


@functools.lru_cache(maxsize=8)
def _renderer(config, camera: int):
    # Building the world and a camera's occluders is the slow part of a mask; reuse it across calls.
    from grewkit.synth.camera_view import CameraRenderer
    from grewkit.synth.world import build_world

    return CameraRenderer(build_world(config), camera, with_background=False)
