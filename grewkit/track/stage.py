"""The ``track`` stage: one unit per video with detections, producing ``tracklets`` and ``boxes``.

Every tracklet is written, kept or not: dropped ones carry their reasons in ``filter_reason``
so a reviewer can see what the filters threw away. Later stages use ``kept = true`` only.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core import manifests
from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.core.runner import StageState
from grewkit.core.schemas import conform, get_schema
from grewkit.core.stage import Stage, Unit, unit_key
from grewkit.track.settings import project_track_settings
from grewkit.track.tracklets import estimate_visibility, judge, track_detections


def detections_of(project, camera_id: str, video_id: str, expected: int | None = None) -> pa.Table:
    """One video's rows from its camera's detections partition, without reading the other videos.

    ``expected``: the rows detect recorded for the video. A missing partition reads as empty only when
    detect recorded none; any other count than the recorded one means the manifest is not detect's
    finished output (a run still going, or killed), and tracking it would silently lose people.
    """
    path = manifests.manifest_path(project.manifests_dir, "detections") / f"{camera_id}.parquet"
    schema = get_schema("detections")
    if expected is None:
        raise GrewkitError(f"detect has not finished video {video_id}: run `grewkit detect` first", path=path)
    if not path.exists():
        if expected:
            raise GrewkitError(
                f"missing, but detect recorded {expected} detections of video {video_id}: run `grewkit detect` again",
                path=path,
            )
        return schema.empty_table()
    table = manifests.read_file(path, "detections", filters=[("video_id", "=", video_id)])
    if table.num_rows != expected:
        raise GrewkitError(
            f"{table.num_rows} detections of video {video_id}, but detect recorded {expected}: "
            "run `grewkit detect` again",
            path=path,
        )
    return table


#: Frame rates beyond this are taken for a broken header, not a camera: durations in seconds would be nonsense.
MAX_FPS = 1000.0


def check_fps(project, video: dict) -> None:
    """The track settings are durations in seconds, converted with each video's fps: refuse one it cannot trust."""
    fps = video.get("fps")
    if fps is None or not math.isfinite(fps) or fps <= 0 or fps > MAX_FPS:
        raise GrewkitError(
            f"video {video['video_id']} has fps {fps} in the videos manifest (must be in (0, {MAX_FPS:g}]): "
            "the track settings in seconds cannot be converted to its frames; re-encode it with a "
            "valid frame rate",
            path=project.resolve(video["path"]) if video.get("path") else None,
        )


def video_frames(project, video_id: str):
    """``frames(indices)`` over one video's file, for the offline association that reads the boxes' pixels.

    The path is looked up when tracking, not carried in the unit, so that moving the media does not re-track.
    Frames are decoded ahead as detect does (``[detect] decode_ahead``), overlapping with the descriptors.
    """
    from grewkit.core.frames import read_frames

    videos = project.read("videos", ["video_id", "path"]).to_pylist()
    path = project.resolve(next(r["path"] for r in videos if r["video_id"] == video_id))
    ahead = project.settings.section("detect").decode_ahead

    def frames(indices):
        return read_frames(path, frames=indices, ahead=ahead)

    return frames


def known_descriptors(dets: pa.Table, boxes: Boxes, appearance: str):
    """The descriptors detect stored with the boxes, when every box has one made by ``appearance``; else None
    (detected with another or no ``[detect] appearance``, or before schema v2): track reads the frames then."""
    from grewkit.core.appearance import KnownDescriptors

    kinds = dets.column("descriptor_kind")
    column = dets.column("descriptor")
    if not dets.num_rows or kinds.null_count or column.null_count or set(kinds.unique().to_pylist()) != {appearance}:
        return None
    flat = column.combine_chunks()
    lengths = set(pc.list_value_length(flat).unique().to_pylist())
    if len(lengths) != 1:
        return None
    values = flat.flatten().to_numpy(zero_copy_only=False).reshape(dets.num_rows, lengths.pop())
    return KnownDescriptors(boxes.frame, boxes.xyxy, values)


def tracklet_id(video_id: str, number: int) -> str:
    return f"{video_id}-t{number:05d}"


class TrackStage(Stage):
    name = "track"
    outputs = ("tracklets", "boxes")
    unit_noun = "video"

    def needs(self) -> tuple[str, ...]:
        return ("detect",)

    def requires(self, unit: Unit, upstream: dict[str, list[Unit]]) -> dict[str, list[str]]:
        # Which detections a video's tracks come from is part of the unit's inputs (grewkit.core.provenance):
        # re-detecting with other results re-tracks; merely rerunning detect does not.
        return {"detect": [u.key for u in upstream["detect"] if u.payload.get("video_id") == unit.payload["video_id"]]}

    def plan(self) -> list[Unit]:
        from grewkit.detect.stage import DetectStage

        track = project_track_settings(self.project)
        detect = self.project.settings.section("detect")
        videos = self.project.read("videos", ["video_id", "camera_id", "path", "fps", "frame_count", "width", "height"])
        # The rows detect recorded per video (None while any of its units is not done): the worker
        # checks the detections it reads against them.
        markers = StageState(self.project, "detect").markers()
        expected: dict[str, int | None] = {}
        for u in DetectStage(self.project).plan():
            vid, marker = u.payload["video_id"], markers.get(u.key)
            rows = (
                None
                if marker is None or vid in expected and expected[vid] is None
                else expected.get(vid, 0) + int(marker.get("rows", {}).get("detections", 0))
            )
            expected[vid] = rows
        units = []
        for v in sorted(videos.to_pylist(), key=lambda v: v["video_id"]):
            check_fps(self.project, v)
            v = {k: x for k, x in v.items() if k != "path"}  # read for the message only, not a unit input
            text = json.dumps(
                {"track": asdict(track), "stride": detect.stride, "max_frames": detect.max_frames}, sort_keys=True
            )
            digest = hashlib.sha1(text.encode()).hexdigest()[:10]
            units.append(
                Unit(
                    f"{unit_key(v['video_id'])}-{digest}",
                    {
                        **v,
                        "stride": detect.stride,
                        "max_frames": detect.max_frames,
                        "detections": expected.get(v["video_id"]),
                    },
                )
            )
        return units

    def process(self, unit: Unit) -> dict[str, pa.Table]:
        v = unit.payload
        settings = project_track_settings(self.project)
        dets = detections_of(self.project, v["camera_id"], v["video_id"], v.get("detections"))
        n_frames = v["frame_count"] if not v["max_frames"] else min(v["frame_count"], v["max_frames"])
        detected = np.arange(0, n_frames, v["stride"], dtype=np.int64)
        frames = video_frames(self.project, v["video_id"]) if settings.stitch else None
        boxes = Boxes.from_arrow(dets)
        tracklets = track_detections(
            boxes,
            detected_frames=detected,
            fps=v["fps"],
            settings=settings,
            stride=v["stride"],
            cut=settings.cut_switches,
            frames=frames,
            known=known_descriptors(dets, boxes, settings.appearance) if settings.stitch else None,
            frame_size=(v["width"], v["height"]),
        )
        estimate_visibility(tracklets)
        rows, box_parts = [], []
        for t in tracklets:
            reasons = (t.reasons or []) + judge(
                t, fps=v["fps"], width=v["width"], height=v["height"], settings=settings
            )
            tid = tracklet_id(v["video_id"], t.number)
            scores = t.score[~np.isnan(t.score)]
            rows.append(
                {
                    "tracklet_id": tid,
                    "video_id": v["video_id"],
                    "camera_id": v["camera_id"],
                    "track_id": t.number,
                    "start_frame": int(t.frame[0]),
                    "end_frame": int(t.frame[-1]),
                    "n_frames": len(t.frame),
                    "mean_box_height": float(t.heights.mean()),
                    "mean_score": float(scores.mean()) if len(scores) else 0.0,
                    "kept": not reasons,
                    "filter_reason": "; ".join(reasons) or None,
                }
            )
            n = len(t.frame)
            table = t.boxes.to_arrow().append_column("visibility", pa.array(t.visibility, pa.float32()))
            for name, value in (("tracklet_id", tid), ("video_id", v["video_id"]), ("camera_id", v["camera_id"])):
                table = table.append_column(name, pa.array([value] * n, pa.string()))
            box_parts.append(table)
        tracklets_table = (
            pa.Table.from_pylist(rows, schema=get_schema("tracklets").arrow)
            if rows
            else get_schema("tracklets").empty_table()
        )
        boxes = (
            pa.concat_tables([conform(b, get_schema("boxes")) for b in box_parts])
            if box_parts
            else get_schema("boxes").empty_table()
        )
        return {"tracklets": tracklets_table, "boxes": boxes}
