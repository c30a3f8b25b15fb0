"""MOTChallenge text files per video, for TrackEval, py-motmetrics and other tracking tools.

Per video, ``OUT/<video_id>/``:

- ``whole.txt``: whole trajectories, ByteTrack with gap filling but without the identity-switch
  cuts, re-tracked from the detections manifest with the project's [track] settings: what MOT
  metrics score (the cuts split trajectories on purpose) and what ``grewkit bench track`` scores;
- ``kept.txt``: the kept tracklets as the tracklets and boxes manifests hold them, one id per tracklet
  (the number in its tracklet_id);
- ``tracklets.txt``: every tracklet the track stage wrote, kept or dropped, the same way: its cuts and
  stitching as MOT ids (on TUD-Campus these score higher IDF1 than the whole trajectories,
  docs/benchmarks.md);
- ``seqinfo.ini``: name, fps, size and length, as in a MOTChallenge sequence folder.

Rows are ``frame,id,x,y,w,h,conf,-1,-1,-1`` with 1-based frames (the manifests count from 0);
an interpolated box (score null) has conf 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError


@dataclass
class MotExport:
    videos: int
    whole_rows: int
    kept_rows: int
    kept_tracklets: int
    tracklet_rows: int


def mot_lines(boxes: Boxes) -> str:
    """MOT rows for boxes whose frames are already 1-based and whose ``track_id`` is the MOT id."""
    xyxy = boxes.xyxy.astype(np.float64)
    score = np.nan_to_num(boxes.score.astype(np.float64), nan=0.0)
    order = np.lexsort((boxes.track_id, boxes.frame))
    return "".join(
        f"{int(boxes.frame[i])},{int(boxes.track_id[i])},{xyxy[i, 0]:.2f},{xyxy[i, 1]:.2f},"
        f"{xyxy[i, 2] - xyxy[i, 0]:.2f},{xyxy[i, 3] - xyxy[i, 1]:.2f},{score[i]:.4f},-1,-1,-1\n"
        for i in order
    )


def seqinfo(name: str, *, fps: float, width: int, height: int, length: int) -> str:
    return (
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps:g}\nseqLength={length}\n"
        f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n"
    )


def tracklet_boxes(project, video_id: str, *, kept_only: bool) -> Boxes:
    """The boxes of one video's tracklets (only the kept ones with ``kept_only``), 1-based frames, the
    tracklet number as id."""
    tracklets = project.read("tracklets", ["tracklet_id", "video_id", "track_id", "kept"]).to_pylist()
    number = {
        t["tracklet_id"]: t["track_id"] for t in tracklets if t["video_id"] == video_id and (t["kept"] or not kept_only)
    }
    boxes = project.read("boxes")
    rows = [
        i
        for i, (tid, vid) in enumerate(
            zip(boxes.column("tracklet_id").to_pylist(), boxes.column("video_id").to_pylist())
        )
        if vid == video_id and tid in number
    ]
    table = boxes.take(pa.array(rows, pa.int64()))
    b = Boxes.from_arrow(table, track_column="tracklet_id")
    ids = np.array([number[t] for t in b.track_id.tolist()], np.int64)
    return Boxes(b.frame + 1, b.xyxy, b.score, ids)


def tracklets_to_mot(tracklets) -> Boxes:
    """Tracklets as MOT rows: 1-based frames, the tracklet number as id, 0 for interpolated scores."""
    if not tracklets:
        return Boxes.empty(with_track_id=True)
    return Boxes(
        np.concatenate([t.frame for t in tracklets]) + 1,
        np.concatenate([t.xyxy for t in tracklets]),
        np.nan_to_num(np.concatenate([t.score for t in tracklets]), nan=0.0),
        np.concatenate([np.full(len(t.frame), t.number) for t in tracklets]),
    )


def export_mot(project, out: str | Path) -> MotExport:
    """Write every video's MOT files; refuses while the track stage is not done for its current settings."""
    from grewkit.core.runner import assess
    from grewkit.track.settings import project_track_settings
    from grewkit.track.stage import TrackStage, detections_of, video_frames
    from grewkit.track.tracklets import track_detections

    stage = TrackStage(project)
    try:
        judged = assess(project, stage)  # plans the units, which also checks every video's fps
    finally:
        stage.close()
    if not judged.units:
        raise GrewkitError(
            "no videos in the project: run `grewkit ingest`, `detect` and `track` first", path=project.root
        )
    missing = [u.payload["video_id"] for u in judged.units if judged.state[u.key] != "done"]
    if missing:
        raise GrewkitError(
            f"tracks of {len(missing)} video(s) are not up to date with the settings "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): run `grewkit track` first"
        )
    settings = project_track_settings(project)
    files: dict[Path, str] = {}
    whole_rows = kept_rows = kept_tracklets = tracklet_rows = 0
    for unit in judged.units:
        v = unit.payload
        n_frames = v["frame_count"] if not v["max_frames"] else min(v["frame_count"], v["max_frames"])
        dets = detections_of(project, v["camera_id"], v["video_id"], v.get("detections"))
        whole = tracklets_to_mot(
            track_detections(
                Boxes.from_arrow(dets),
                fps=v["fps"],
                settings=settings,
                detected_frames=np.arange(0, n_frames, v["stride"], dtype=np.int64),
                stride=v["stride"],
                cut=False,
                frames=video_frames(project, v["video_id"]) if settings.stitch else None,
            )
        )
        kept = tracklet_boxes(project, v["video_id"], kept_only=True)
        every = tracklet_boxes(project, v["video_id"], kept_only=False)
        folder = Path(out) / v["video_id"]
        files[folder / "whole.txt"] = mot_lines(whole)
        files[folder / "kept.txt"] = mot_lines(kept)
        files[folder / "tracklets.txt"] = mot_lines(every)
        files[folder / "seqinfo.ini"] = seqinfo(
            v["video_id"], fps=v["fps"], width=v["width"], height=v["height"], length=n_frames
        )
        whole_rows, kept_rows = whole_rows + len(whole), kept_rows + len(kept)
        kept_tracklets += len(np.unique(kept.track_id))
        tracklet_rows += len(every)
    # Everything is computed before the first file is written: a refusal above leaves OUT as it was.
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return MotExport(len(judged.units), whole_rows, kept_rows, kept_tracklets, tracklet_rows)
