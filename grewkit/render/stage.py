"""The render stage: one unit per kept tracklet, one file per sequence and modality.

Inputs (from the tracking stage, or a synthetic world's ground truth with
``[render] input = "ground_truth/manifests"``): ``videos``, ``tracklets`` (kept = true) and
``boxes``. Output: ``renders/<camera>/<tracklet>/<modality>.npy`` and one ``sequences`` row per
file. Everything of a tracklet is computed before anything is written, so a failing tracklet
leaves no file behind, and every file is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pyarrow as pa

from grewkit.core import manifests
from grewkit.core.arrays import save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.frames import read_frames
from grewkit.core.manifests import read_manifest
from grewkit.core.stage import Stage, Unit, unit_key
from grewkit.render.crops import make_crop
from grewkit.render.flow import DISFlow
from grewkit.render.gei import gait_energy_image
from grewkit.render.pose import MediapipePerson, to_coco17, world_joints
from grewkit.render.pose_estimators import MEDIAPIPE, estimator_table, worker_pose_estimator
from grewkit.render.pretreatment import normalise_frames
from grewkit.render.segmentation import make_segmenter
from grewkit.render.settings import RenderSettings
from grewkit.render.skeleton import skeleton_maps


@dataclass
class RenderResult:
    """A tracklet's arrays (modality name -> array) and the seconds spent per step."""

    arrays: dict[str, np.ndarray]
    seconds: dict[str, float] = field(default_factory=dict)
    crops: int = 0
    #: with ``keep_masks``: the binary person masks in crop space before size normalisation, and each
    #: crop's (scale, x0, y0), for quality checks against true masks
    masks: np.ndarray | None = None
    geometry: list[tuple[float, float, float]] | None = None


class _Clock:
    def __init__(self, timer=time.perf_counter):
        self.timer = timer
        self.seconds: dict[str, float] = {}

    def add(self, name: str, since: float) -> float:
        now = self.timer()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - since
        return now


def render_tracklet(
    video_path: Path,
    frames: np.ndarray,
    boxes: np.ndarray,
    settings: RenderSettings,
    *,
    name: str = "tracklet",
    keep_masks: bool = False,
    timer=time.perf_counter,
) -> RenderResult:
    """Render every requested modality of one tracklet from its video and its per-frame boxes.

    ``frames``: (T,) increasing video frame numbers; ``boxes``: (T, 4) x1, y1, x2, y2 pixels.
    Raises GrewkitError naming the tracklet when too few silhouettes survive. ``timer`` clocks the
    steps in ``RenderResult.seconds`` (``time.process_time`` for CPU time on a busy machine).
    """
    wanted = set(settings.modalities)
    need_sil = bool(wanted & {"sil", "gei"})
    need_pose2d = bool(wanted & {"pose2d", "skel"})  # skeleton maps are drawn from the 2D keypoints
    # pose2d from another estimator than mediapipe runs top-down on the frame; pose3d is mediapipe's alone.
    estimator = None
    if need_pose2d and settings.pose_estimator != MEDIAPIPE:
        estimator = worker_pose_estimator(settings.pose_estimator, estimators_file=settings.pose_estimators_file)
    need_pose = "pose3d" in wanted or (need_pose2d and estimator is None)
    if len(frames) == 0:
        raise GrewkitError(f"{name}: no boxes")
    if np.any(np.diff(frames) <= 0):
        raise GrewkitError(f"{name}: box frames are not strictly increasing")
    segmenter = None
    if need_sil:
        segmenter = make_segmenter(
            settings.segmenter,
            threshold=settings.mask_threshold,
            history=settings.mog2_history,
            var_threshold=settings.mog2_var_threshold,
            warmup_frames=settings.mog2_warmup_frames,
        )
    person_model = None
    if need_pose or (segmenter is not None and segmenter.needs_person):
        # One person model per live tracklet (BlazePose: about 105 MB), closed below when the tracklet is done.
        person_model = MediapipePerson(segmentation=segmenter is not None and segmenter.needs_person)
    flow = DISFlow(settings.flow_height) if "flow" in wanted else None
    clock = _Clock(timer)
    masks, pose2d, pose3d, grays, geometry = [], [], [], [], []
    by_frame = {int(f): b for f, b in zip(frames, boxes)}
    first, last = int(frames[0]), int(frames[-1])
    start = max(0, first - (segmenter.warmup_frames if segmenter else 0))
    try:
        t = timer()
        for index, frame_bgr in read_frames(video_path, start=start, stop=last + 1):
            t = clock.add("decode", t)  # the generator decoded the frame
            if segmenter is not None:
                segmenter.observe(frame_bgr)  # every frame, in order: background models must see them all
                t = clock.add("segment", t)
            box = by_frame.get(index)
            if box is None:
                t = clock.add("decode", t)
                continue
            rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            crop = make_crop(rgb, index, box, settings.crop_margin)
            geometry.append((crop.scale, crop.x0, crop.y0))
            t = clock.add("decode", t)
            person = None
            if person_model is not None:
                person = person_model.process(crop.image)
                t = clock.add("mediapipe", t)
            if segmenter is not None:
                masks.append(segmenter.segment(frame_bgr, crop, person))
                t = clock.add("segment", t)
            if need_pose:
                if estimator is None and need_pose2d:
                    pose2d.append(to_coco17(person.landmarks, crop))
                pose3d.append(world_joints(person.world))
                t = clock.add("pose", t)
            if estimator is not None:
                pose2d.append(estimator.estimate(rgb, np.asarray(box, np.float64)[None])[0])
                t = clock.add("pose", t)
            if flow is not None:
                grays.append(flow.prepare(crop.image))
                t = clock.add("flow", t)
    finally:
        if person_model is not None:
            person_model.close()
        if segmenter is not None:
            segmenter.close()
    arrays: dict[str, np.ndarray] = {"frames": np.asarray(frames, np.int64)}
    t = timer()
    if need_sil:
        normalised = normalise_frames(np.stack(masks), tuple(settings.heights))
        for r, out in normalised.items():
            if len(out.kept) < settings.min_frames:
                raise GrewkitError(
                    f"{name}: only {len(out.kept)} of {len(frames)} crops gave a silhouette at height {r} "
                    f"(min_frames={settings.min_frames}): the crops are empty or black, or no person was segmented"
                )
            if "sil" in wanted:
                arrays[f"sil{r}"] = out.frames
                arrays[f"sil{r}_frames"] = arrays["frames"][out.kept]
        t = clock.add("pretreatment", t)
        if "gei" in wanted:
            for r, out in normalised.items():
                arrays[f"gei{r}"] = gait_energy_image(out.frames)
            t = clock.add("gei", t)
    if flow is not None:
        arrays["flow"] = (
            np.stack([flow.pair(a, b) for a, b in zip(grays[:-1], grays[1:])])
            if len(grays) > 1
            else np.zeros((0, flow.height, flow.width, 2), np.int8)
        )
        t = clock.add("flow", t)
    if "pose2d" in wanted:
        arrays["pose2d"] = np.stack(pose2d)
    if "skel" in wanted:
        for r in settings.heights:
            arrays[f"skel{r}"] = skeleton_maps(np.stack(pose2d), r)
        t = clock.add("skeleton", t)
    if "pose3d" in wanted:
        arrays["pose3d"] = np.stack(pose3d)
    return RenderResult(
        arrays,
        clock.seconds,
        crops=len(frames),
        masks=np.stack(masks) if keep_masks and masks else None,
        geometry=geometry if keep_masks else None,
    )


def _shape_row(modality: str, array: np.ndarray) -> tuple[int, int, int]:
    """(frames, height, width) for the sequences manifest."""
    if modality.startswith("gei"):
        return 1, array.shape[0], array.shape[1]
    if modality.startswith("skel"):
        return array.shape[0], array.shape[2], array.shape[3]
    if modality.startswith("sil") and array.ndim == 3 or modality == "flow":
        return array.shape[0], array.shape[1], array.shape[2]
    return array.shape[0], 0, 0


class RenderStage(Stage):
    name = "render"
    outputs = ("sequences",)
    unit_noun = "tracklet"
    #: set by ``grewkit render --modalities/--segmenter`` in the planning process; never read by workers
    overrides: ClassVar[dict[str, Any]] = {}

    def settings(self) -> RenderSettings:
        base = self.project.settings.section("render")
        if not self.overrides:
            return base
        values = {**asdict(base), **self.overrides}
        try:
            return RenderSettings(**values)
        except ValueError as exc:
            raise GrewkitError(f"render options: {exc}") from None

    def settings_fingerprint(self) -> Any:
        return asdict(self.settings())

    def _own_input(self) -> bool:
        return (self.project.root / self.settings().input).resolve() == self.project.manifests_dir.resolve()

    def needs(self) -> tuple[str, ...]:
        # Tracks written by other means (a synthetic world's ground truth, an import) have no track
        # record: their boxes file is fingerprinted by content instead (input_files).
        tracked = (self.project.state_dir("track") / "plan.json").exists()
        return ("track",) if self._own_input() and tracked else ()

    def requires(self, unit: Unit, upstream: dict[str, list[Unit]]) -> dict[str, list[str]]:
        video = unit.payload["video_id"]
        return {"track": [u.key for u in upstream["track"] if u.payload.get("video_id") == video]}

    def input_files(self, unit: Unit) -> list[str]:
        if not hasattr(self, "_upstream"):
            self._upstream = self.needs()  # asked once per unit: settings are parsed once per plan
        return [] if self._upstream else [unit.payload["boxes_path"]]

    def input_dir(self, settings: RenderSettings) -> Path:
        path = self.project.root / settings.input
        if not path.is_dir():
            raise GrewkitError("input manifests folder does not exist (run the tracking stage first)", path=path)
        return path

    def plan(self) -> list[Unit]:
        settings = self.settings()
        root = self.input_dir(settings)
        for name in ("videos", "tracklets", "boxes"):
            if not manifests.exists(root, name):
                raise GrewkitError(
                    f"no {name} manifest here: run `grewkit track` first (or set [render] input)", path=root
                )
        tracklets = read_manifest(root, "tracklets").to_pylist()
        videos = {v["video_id"]: v for v in read_manifest(root, "videos").to_pylist()}
        # Tracklets from another folder (a synthetic world's ground truth) are not in the project's
        # tracklets manifest: their sequences carry no tracklet_id (the sequence_id still names the
        # tracklet) and take their identity from that folder's identities manifest when it has one.
        own = root.resolve() == self.project.manifests_dir.resolve()
        identities = {}
        if not own and manifests.exists(root, "identities"):
            identities = {r["tracklet_id"]: r["identity_id"] for r in read_manifest(root, "identities").to_pylist()}
        config = asdict(settings)
        digested = dict(config)
        if settings.pose_estimator == MEDIAPIPE and not settings.pose_estimators_file:
            # The default estimator leaves the digest as it was before estimators could be chosen,
            # so projects rendered then are not rendered again.
            del digested["pose_estimator"], digested["pose_estimators_file"]
        table = (
            estimator_table(settings.pose_estimator, settings.pose_estimators_file)
            if {"pose2d", "skel"} & set(settings.modalities)
            else None
        )
        if table is not None:
            digested["pose_estimator_table"] = table  # another model under the same name renders again
        digest = hashlib.sha256(json.dumps(digested, sort_keys=True).encode()).hexdigest()[:8]
        units = []
        for row in sorted(tracklets, key=lambda r: r["tracklet_id"]):
            if not row["kept"]:
                continue
            video = videos.get(row["video_id"])
            if video is None:
                raise GrewkitError(
                    f"tracklet {row['tracklet_id']} names video {row['video_id']!r}, absent from videos",
                    path=root / "videos.parquet",
                )
            payload = {
                "tracklet_id": row["tracklet_id"],
                "camera_id": row["camera_id"],
                "video_id": row["video_id"],
                "video_path": str(
                    self.project.resolve(video["path"]) if not Path(video["path"]).is_absolute() else video["path"]
                ),
                "boxes_path": str(root / "boxes" / f"{row['camera_id']}.parquet"),
                "own_tracklet": own,
                "identity_id": identities.get(row["tracklet_id"]),
                "settings": config,
            }
            units.append(Unit(unit_key(row["tracklet_id"], digest), payload))
        return units

    def process(self, unit: Unit) -> dict[str, pa.Table]:
        p = unit.payload
        settings = RenderSettings(**p["settings"])
        tid = p["tracklet_id"]
        boxes_path = Path(p["boxes_path"])
        if not boxes_path.is_file():
            raise GrewkitError(f"no boxes partition for camera {p['camera_id']!r}", path=boxes_path)
        table = manifests.read_file(
            boxes_path, "boxes", ["tracklet_id", "frame", "x1", "y1", "x2", "y2"], filters=[("tracklet_id", "=", tid)]
        ).sort_by("frame")
        frames = table.column("frame").to_numpy()
        boxes = (
            np.stack([table.column(c).to_numpy().astype(np.float64) for c in ("x1", "y1", "x2", "y2")], axis=1)
            if table.num_rows
            else np.zeros((0, 4))
        )
        result = render_tracklet(Path(p["video_path"]), frames, boxes, settings, name=f"tracklet {tid}")
        folder = self.project.folder("renders") / unit_key(p["camera_id"]) / unit_key(tid)
        rows = []
        for modality, array in sorted(result.arrays.items()):
            path = folder / f"{modality}.npy"
            digest = save_array(path, array)
            n, h, w = _shape_row(modality, array)
            rows.append(
                {
                    "sequence_id": tid,
                    "modality": modality,
                    "tracklet_id": tid if p["own_tracklet"] else None,
                    "identity_id": p["identity_id"],
                    "camera_id": p["camera_id"],
                    "view": None,
                    "condition": None,
                    "path": self.project.relative(path),
                    "frames": n,
                    "height": h,
                    "width": w,
                    "sha256": digest,
                }
            )
        return {"sequences": pa.Table.from_pylist(rows)}
