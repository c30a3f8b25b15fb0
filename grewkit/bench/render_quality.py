"""``grewkit bench render-quality``: silhouette and 2D-pose quality against a synthetic world's true masks.

The measure is the IoU of grewkit's binary person mask and the true visible silhouette, both in
crop space (256x128, the segmenter's own output before size normalisation), per crop. Crops whose
true mask is empty (person fully hidden) are skipped: there is nothing to segment.
Needs pandas (the ``test`` extra) and a ``grewkit synth --masks`` project; the render stage itself
does not import this module.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pyarrow.compute as pc

from grewkit.bench.report import (
    JSON_OPTION,
    emit,
    ingest_synth,
    machine,
    markdown_table,
    run_stages,
    synth_world,
    world_options,
)
from grewkit.core.arrays import load_array
from grewkit.core.errors import GrewkitError
from grewkit.core.manifests import read_manifest
from grewkit.core.project import Project
from grewkit.render.crops import Crop

# segmenter -> modalities rendered on the ground-truth boxes (pose2d only where mediapipe finds it)
SEGMENTERS = {"mediapipe": ["sil", "pose2d"], "mog2": ["sil"], "mediapipe+mog2": ["sil"]}


def mask_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """IoU of two masks (non-zero = person); NaN when both are empty."""
    p, t = pred > 0, true > 0
    union = np.count_nonzero(p | t)
    return float(np.count_nonzero(p & t) / union) if union else float("nan")


def true_crop_mask(
    true_in_box: np.ndarray, box: np.ndarray, frame_shape: tuple[int, int], geometry: tuple[float, float, float]
) -> np.ndarray:
    """A true mask given inside its whole-pixel box, placed in the frame and warped into the crop."""
    h, w = frame_shape
    x1, y1, x2, y2 = (int(v) for v in box)
    full = np.zeros((h, w), np.uint8)
    full[y1:y2, x1:x2] = true_in_box[: y2 - y1, : x2 - x1].astype(np.uint8) * 255
    scale, x0, y0 = geometry
    return Crop(0, None, scale, x0, y0).warp(full, nearest=True)  # type: ignore[arg-type]


@dataclass
class QualityReport:
    """Per-crop IoUs (crops with a visible person), whether grewkit produced a mask there, and the visibility."""

    segmenter: str
    ious: list[float] = field(default_factory=list)
    produced: list[bool] = field(default_factory=list)
    visibility: list[float] = field(default_factory=list)
    per_tracklet: dict[str, float] = field(default_factory=dict)
    #: 2D pose: per visible true keypoint, the error of grewkit's keypoint over the box height (NaN: not found)
    pose_errors: list[float] = field(default_factory=list)

    def pck(self, threshold: float = 0.05) -> float:
        """Share of visible true keypoints found within ``threshold`` x box height (missing ones count as wrong)."""
        err = np.asarray(self.pose_errors)
        return float(np.mean(np.nan_to_num(err, nan=np.inf) <= threshold)) if err.size else float("nan")

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious)) if self.ious else float("nan")

    @property
    def mean_iou_produced(self) -> float:
        """Mean IoU over the crops where the segmenter found the person (what pretreatment keeps)."""
        vals = np.asarray(self.ious)[np.asarray(self.produced, bool)]
        return float(vals.mean()) if vals.size else float("nan")

    def mean_iou_visible(self, threshold: float = 0.9) -> float:
        vals = np.asarray(self.ious)[np.asarray(self.visibility) >= threshold]
        return float(vals.mean()) if vals.size else float("nan")

    def line(self) -> str:
        return (
            f"{self.segmenter}: mean IoU {self.mean_iou:.3f} over {len(self.ious)} crops of "
            f"{len(self.per_tracklet)} tracklets; {self.mean_iou_visible():.3f} on crops >= 90 % visible; "
            f"mask found on {100 * np.mean(self.produced):.0f} % of crops, IoU there {self.mean_iou_produced:.3f}"
        )


def synthetic_quality(
    project: Project, settings, *, max_tracklets: int | None = None, min_visibility: float = 0.0
) -> QualityReport:
    """Render the ground-truth tracklets of a ``grewkit synth --masks`` project and score their masks."""
    from grewkit.render.stage import render_tracklet

    gt_root = project.root / "ground_truth" / "manifests"
    masks_dir = project.root / "ground_truth" / "masks"
    if not masks_dir.is_dir():
        raise GrewkitError("no true masks: generate the world with `grewkit synth --masks`", path=masks_dir)
    videos = {v["video_id"]: v for v in read_manifest(gt_root, "videos").to_pylist()}
    tracklets = [t for t in read_manifest(gt_root, "tracklets").to_pylist() if t["kept"]]
    tracklets.sort(key=lambda t: t["tracklet_id"])
    report = QualityReport(settings.segmenter)
    boxes_all = read_manifest(gt_root, "boxes")
    poses = None
    if "pose2d" in settings.modalities:
        poses = read_manifest(gt_root, "gt_poses", ["tracklet_id", "frame", "kp_x", "kp_y", "kp_visibility"])
    for t in tracklets[:max_tracklets]:
        rows = boxes_all.filter(pc.equal(boxes_all["tracklet_id"], t["tracklet_id"])).sort_by("frame").to_pandas()
        video = videos[t["video_id"]]
        result = render_tracklet(
            project.resolve(video["path"]),
            rows.frame.to_numpy(),
            rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float64),
            settings,
            name=t["tracklet_id"],
            keep_masks=True,
        )
        truth = load_array(masks_dir / f"{t['tracklet_id']}.npy")
        if len(truth) != len(rows):
            raise GrewkitError(
                f"{len(truth)} true masks for {len(rows)} boxes", path=masks_dir / f"{t['tracklet_id']}.npy"
            )
        mine = []
        for k, row in enumerate(rows.itertuples()):
            vis = 1.0 if row.visibility is None or np.isnan(row.visibility) else float(row.visibility)
            if vis < min_visibility:
                continue
            true = true_crop_mask(
                truth[k],
                np.array([row.x1, row.y1, row.x2, row.y2]),
                (video["height"], video["width"]),
                result.geometry[k],
            )
            if true.any():
                mine.append(mask_iou(result.masks[k], true))
                report.produced.append(bool(result.masks[k].any()))
                report.visibility.append(vis)
        report.ious.extend(mine)
        if poses is not None:
            true = poses.filter(pc.equal(poses["tracklet_id"], t["tracklet_id"])).sort_by("frame").to_pandas()
            pred = result.arrays["pose2d"]
            heights = (rows.y2 - rows.y1).to_numpy()
            by_frame = {int(f): k for k, f in enumerate(rows.frame)}
            for r in true.itertuples():
                k = by_frame.get(int(r.frame))
                if k is None:
                    continue
                vis = np.asarray(r.kp_visibility) == 2  # 2: visible in the frame and not occluded
                err = np.hypot(pred[k, :, 0] - np.asarray(r.kp_x), pred[k, :, 1] - np.asarray(r.kp_y)) / heights[k]
                err[pred[k, :, 2] < 0.5] = np.nan
                report.pose_errors.extend(err[vis].tolist())
        report.per_tracklet[t["tracklet_id"]] = float(np.mean(mine)) if mine else float("nan")
    return report


def tracked_quality(project: Project, settings, *, max_tracklets: int | None = None) -> QualityReport:
    """Like ``synthetic_quality`` but on the pipeline's own kept tracklets (detector boxes, tracker ids).

    Each tracked tracklet is matched to a true identity (``grewkit.synth.truth.match_tracklets_to_truth``);
    per frame, the true mask of that identity in that frame is compared with grewkit's mask, both
    in the crop cut around the *tracked* box. Unmatched tracklets and frames are skipped.
    """
    from grewkit.render.stage import render_tracklet
    from grewkit.synth.truth import ground_truth, match_tracklets_to_truth

    gt = ground_truth(project)
    masks_dir = project.root / "ground_truth" / "masks"
    if not masks_dir.is_dir():
        raise GrewkitError("no true masks: generate the world with `grewkit synth --masks`", path=masks_dir)
    identity = {r["tracklet_id"]: r["identity_id"] for r in match_tracklets_to_truth(project).to_pylist()}
    gt_of_identity = {}
    for r in gt.read("identities", ["tracklet_id", "identity_id"]).to_pylist():
        gt_of_identity.setdefault(r["identity_id"], []).append(r["tracklet_id"])
    gt_boxes = gt.read("boxes", ["tracklet_id", "frame", "x1", "y1", "x2", "y2"]).to_pandas()
    gt_index = {
        (r.tracklet_id, int(r.frame)): (k, np.array([r.x1, r.y1, r.x2, r.y2]))
        for tid, g in gt_boxes.groupby("tracklet_id")
        for k, r in enumerate(g.sort_values("frame").itertuples())
    }
    videos = {v["video_id"]: v for v in project.read("videos").to_pylist()}
    boxes = project.read("boxes").to_pandas()
    report = QualityReport(settings.segmenter)
    kept = [t for t in project.read("tracklets").to_pylist() if t["kept"] and identity.get(t["tracklet_id"])]
    for t in sorted(kept, key=lambda t: t["tracklet_id"])[:max_tracklets]:
        rows = boxes[boxes.tracklet_id == t["tracklet_id"]].sort_values("frame")
        video = videos[t["video_id"]]
        result = render_tracklet(
            project.resolve(video["path"]),
            rows.frame.to_numpy(),
            rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float64),
            settings,
            name=t["tracklet_id"],
            keep_masks=True,
        )
        cache: dict[str, np.ndarray] = {}
        mine = []
        for k, frame in enumerate(rows.frame.to_numpy()):
            hit = next(
                (
                    (g, gt_index[(g, int(frame))])
                    for g in gt_of_identity[identity[t["tracklet_id"]]]
                    if (g, int(frame)) in gt_index
                ),
                None,
            )
            if hit is None:
                continue
            g, (j, gbox) = hit
            if g not in cache:
                cache[g] = load_array(masks_dir / f"{g}.npy")
            true = true_crop_mask(cache[g][j], gbox, (video["height"], video["width"]), result.geometry[k])
            if true.any():
                mine.append(mask_iou(result.masks[k], true))
                report.produced.append(bool(result.masks[k].any()))
                report.visibility.append(1.0)
        report.ious.extend(mine)
        report.per_tracklet[t["tracklet_id"]] = float(np.mean(mine)) if mine else float("nan")
    return report


def report_row(report: QualityReport, boxes: str, seconds: float | None = None) -> dict:
    return {
        "segmenter": report.segmenter,
        "boxes": boxes,
        "mean_iou": report.mean_iou,
        "crops": len(report.ious),
        "tracklets": len(report.per_tracklet),
        "mean_iou_visible_90": report.mean_iou_visible(),
        "mask_found_share": float(np.mean(report.produced)) if report.produced else float("nan"),
        "mean_iou_where_found": report.mean_iou_produced,
        "pck_005": report.pck(0.05) if report.pose_errors else None,
        "pck_01": report.pck(0.1) if report.pose_errors else None,
        "keypoints": len(report.pose_errors),
        "seconds": seconds,
    }


def render_quality(
    *,
    cameras: int,
    identities: int,
    seconds: float,
    seed: int,
    ground_truth_boxes: bool,
    tracked: bool,
    max_tracklets: int | None,
) -> dict:
    from grewkit.render.settings import RenderSettings

    rows, stages = [], []
    with tempfile.TemporaryDirectory(prefix="grewkit-bench-render-quality-") as tmp:
        project = synth_world(
            Path(tmp) / "proj", cameras=cameras, identities=identities, seconds=seconds, seed=seed, masks=True
        )
        for segmenter, modalities in SEGMENTERS.items() if ground_truth_boxes else ():
            started = time.perf_counter()
            report = synthetic_quality(
                project, RenderSettings(segmenter=segmenter, modalities=modalities), max_tracklets=max_tracklets
            )
            rows.append(report_row(report, "ground truth", time.perf_counter() - started))
        if tracked:
            ingest_synth(project)
            stages = [summary.line() for summary in run_stages(project, ["detect", "track"])]
            for segmenter in SEGMENTERS:
                started = time.perf_counter()
                report = tracked_quality(
                    project, RenderSettings(segmenter=segmenter, modalities=["sil"]), max_tracklets=max_tracklets
                )
                rows.append(report_row(report, "tracked (default detector and tracker)", time.perf_counter() - started))
    return {
        "machine": machine(),
        "world": {"cameras": cameras, "identities": identities, "seconds": seconds, "seed": seed},
        "stages": stages,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    w = result["world"]

    def num(v):
        return "" if v is None else f"{v:.3f}"

    return "\n".join(
        [
            f"machine: {result['machine']}; synthetic world: {w['cameras']} cameras, {w['identities']} identities, "
            f"{w['seconds']:g} s, seed {w['seed']}",
            *result["stages"],
            "",
            markdown_table(
                [
                    "segmenter",
                    "boxes",
                    "mean IoU",
                    "crops",
                    "tracklets",
                    "IoU on crops >= 90 % visible",
                    "mask found",
                    "IoU where found",
                    "pose2d PCK@0.05",
                    "PCK@0.1 (of box height)",
                    "s",
                ],
                [
                    (
                        r["segmenter"],
                        r["boxes"],
                        num(r["mean_iou"]),
                        r["crops"],
                        r["tracklets"],
                        num(r["mean_iou_visible_90"]),
                        f"{100 * r['mask_found_share']:.0f} %",
                        num(r["mean_iou_where_found"]),
                        num(r["pck_005"]),
                        num(r["pck_01"]),
                        f"{r['seconds']:.0f}",
                    )
                    for r in result["rows"]
                ],
            ),
        ]
    )


@click.command("render-quality")
@world_options(cameras=2, identities=8, seconds=20.0)
@click.option(
    "--tracked", is_flag=True, help="Also run ingest, detect and track, and score the masks on the tracked boxes."
)
@click.option("--only-tracked", is_flag=True, help="Skip the ground-truth boxes part.")
@click.option("--max-tracklets", default=0, show_default=True, help="Score only the first N tracklets (0: all).")
@JSON_OPTION
def bench_render_quality_command(cameras, identities, seconds, seed, tracked, only_tracked, max_tracklets, as_json):
    """Mean mask IoU per crop (crop space, before size normalisation) of each segmenter, and 2D-pose PCK.

    Generates the world with true masks (as `grewkit synth --masks`) in a temporary folder and
    renders its ground-truth tracklets with mediapipe, mog2 and mediapipe+mog2; PCK counts
    missing keypoints as wrong.

    \b
    Example:
      grewkit bench render-quality --cameras 2 --identities 6 --seconds 12 --seed 0 --tracked
    """
    emit(
        render_quality(
            cameras=cameras,
            identities=identities,
            seconds=seconds,
            seed=seed,
            ground_truth_boxes=not only_tracked,
            tracked=tracked or only_tracked,
            max_tracklets=max_tracklets or None,
        ),
        as_json,
        markdown,
    )
