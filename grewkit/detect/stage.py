"""The ``detect`` stage: one unit per registered video, person boxes per frame into ``detections``.

A unit's key carries a fingerprint of the detector and its settings, so changing the backend,
its model file or the stride re-detects every video, while rerunning unchanged settings does nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import closing

import numpy as np
import pyarrow as pa

from grewkit.core.boxes import Boxes
from grewkit.core.frames import prefetched, read_frames
from grewkit.core.stage import Stage, Unit, unit_key
from grewkit.detect.registry import TRACKER_KEYS, backends_path, load_backends


def detector_fingerprint(settings) -> str:
    """Hash of everything that changes the boxes: the backend's table, its model's size and mtime, the settings."""
    path = backends_path(settings.backends_file)
    config = load_backends(path).get(settings.backend, {"missing": settings.backend})
    config = {k: v for k, v in config.items() if k not in TRACKER_KEYS}
    model_stamp = None
    if "model" in config:
        model = (path.parent / config["model"]).resolve()
        if model.exists():
            st = model.stat()
            model_stamp = [st.st_size, st.st_mtime_ns]
    text = json.dumps(
        {
            "backend": settings.backend,
            "config": config,
            "model": model_stamp,
            "stride": settings.stride,
            "chunk_frames": chunk_frames(settings, config),
            "min_score": settings.min_score,
            "min_box_height": settings.min_box_height,
            "max_frames": settings.max_frames,
            # Only when tiling is on, so that projects detected before tiling existed stay up to date.
            **({"tiles": settings.tiles, "tile_merge_iou": settings.tile_merge_iou} if settings.tiles else {}),
            "appearance": settings.appearance,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(text.encode()).hexdigest()[:10]


# Backends that keep state from frame to frame (a background model) see each video whole.
STATEFUL_KINDS = {"mog2"}


def chunk_frames(settings, config: dict) -> int:
    return 0 if config.get("kind") in STATEFUL_KINDS else settings.chunk_frames


def chunks(n_frames: int, size: int) -> list[tuple[int, int]]:
    if size <= 0 or n_frames <= size:
        return [(0, n_frames)]
    return [(a, min(a + size, n_frames)) for a in range(0, n_frames, size)]


def _prepared(frames: Iterator, prepare: Callable) -> Iterator:
    """``(index, frame, prepare(frame))`` for each frame; closing this closes ``frames`` (its video capture)."""
    with closing(frames):
        for f, image in frames:
            yield f, image, prepare(image)


class DetectStage(Stage):
    name = "detect"
    outputs = ("detections",)
    unit_noun = "video"

    # Neither changes a box: how many threads infer, how far ahead frames are decoded.
    volatile_settings = ("threads", "decode_ahead")

    def __init__(self, project):
        super().__init__(project)
        self._detector = None

    def needs(self) -> tuple[str, ...]:
        # Videos registered by other means (an import, a test) have no ingest record to wait for.
        return ("ingest",) if (self.project.state_dir("ingest") / "plan.json").exists() else ()

    def plan(self) -> list[Unit]:
        settings = self.project.settings.section("detect")
        fingerprint = detector_fingerprint(settings)
        config = load_backends(backends_path(settings.backends_file)).get(settings.backend, {})
        size = chunk_frames(settings, config)
        videos = self.project.read("videos", ["video_id", "camera_id", "path", "frame_count"])
        units = []
        for v in sorted(videos.to_pylist(), key=lambda v: v["video_id"]):
            n = min(v["frame_count"], settings.max_frames) if settings.max_frames else v["frame_count"]
            parts = chunks(n, size)
            for i, (a, b) in enumerate(parts):
                suffix = f"-c{i:05d}" if len(parts) > 1 else ""
                units.append(Unit(f"{unit_key(v['video_id'])}-{fingerprint}{suffix}", {**v, "start": a, "end": b}))
        return units

    def detector(self, settings):
        if self._detector is None:
            from grewkit.detect.registry import make_detector

            self._detector = make_detector(
                settings.backend, backends_file=settings.backends_file, threads=settings.threads
            )
            if settings.tiles:
                from grewkit.detect.tiles import TiledDetector

                self._detector = TiledDetector(self._detector, settings.tiles, merge_iou=settings.tile_merge_iou)
        return self._detector

    def process(self, unit: Unit) -> dict[str, pa.Table]:
        settings = self.project.settings.section("detect")
        detector = self.detector(settings)
        detector.reset()
        appearance = None
        if settings.appearance:
            from grewkit.core.appearance import APPEARANCES

            appearance = APPEARANCES.get(settings.appearance)()
        v = unit.payload
        found, described = [], []
        prepare = getattr(detector, "prepare", None)
        ahead = settings.decode_ahead
        frames = read_frames(
            self.project.resolve(v["path"]),
            start=v["start"],
            stop=v["end"],
            step=settings.stride,
            ahead=0 if prepare is not None else ahead,
        )
        if prepare is None:
            items = ((f, image, None) for f, image in frames)
        else:
            # A detector that splits its input preparation off (the generic onnx kind: resize, colour,
            # float) has it done in the decoding thread too, so the inference thread only infers.
            items = _prepared(frames, prepare)
            items = prefetched(items, ahead) if ahead > 0 else items
        for f, image, prepared in items:
            boxes = detector.detect(image) if prepared is None else detector.detect(image, prepared)
            boxes = boxes.filter(min_score=settings.min_score, min_height=settings.min_box_height).in_frame(f)
            found.append(boxes)
            if appearance is not None:
                described.append(appearance.describe(image, boxes.xyxy))
        boxes = Boxes.concat(found)
        n = len(boxes)
        index = np.concatenate([np.arange(len(b), dtype=np.int32) for b in found]) if n else np.zeros(0, np.int32)
        table = boxes.to_arrow().append_column("det_index", pa.array(index, pa.int32()))
        for name, value in (("video_id", v["video_id"]), ("camera_id", v["camera_id"]), ("detector", detector.name)):
            table = table.append_column(name, pa.array([value] * n, pa.string()))
        if appearance is not None:
            rows = np.concatenate(described) if n else np.zeros((0, appearance.dim), np.float32)
            descriptor = pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1), pa.float32()), rows.shape[1])
            table = table.append_column("descriptor", descriptor.cast(pa.list_(pa.float32())))
        else:
            table = table.append_column("descriptor", pa.nulls(n, pa.list_(pa.float32())))
        kind = pa.array([settings.appearance or None] * n, pa.string())
        return {"detections": table.append_column("descriptor_kind", kind)}

    def close(self) -> None:
        self._detector = None
