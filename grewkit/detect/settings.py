"""Settings of ``grewkit detect`` (section ``[detect]`` of grewkit.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting


@dataclass(frozen=True)
class DetectSettings:
    backend: str = setting(
        "centernet",
        "Detector to run: a table name in the backends file (centernet, ssdlite, hog, mog2, or your own); "
        "centernet keeps longer, more complete tracklets than ssdlite at 2-4x its cost (docs/benchmarks.md).",
    )
    backends_file: str = setting("", "Your own detectors.toml; empty uses grewkit's preprocess/detectors.toml.")
    stride: int = setting(1, "Detect on every n-th frame (the tracker bridges the frames between).")
    min_score: float = setting(
        0.1, "Keep boxes scoring at least this; the tracker's low-score pass needs weak boxes too."
    )
    min_box_height: float = setting(16.0, "Drop boxes shorter than this many pixels.")
    chunk_frames: int = setting(
        200,
        "Split videos into units of this many frames, so that workers share one long video (0: one unit per video).",
    )
    max_frames: int = setting(0, "Stop after this many frames per video (0: all); for quick trials.")
    threads: int = setting(1, "Inference threads per worker process (workers x threads should not exceed the cores).")
    decode_ahead: int = setting(
        4,
        "Decode video in a background thread, up to this many frames ahead of the detector (0: decode in turn); "
        "overlaps decoding with inference where a core is free. Also used by track when it reads frames.",
    )
    appearance: str = setting(
        "hsv-histogram",
        "Appearance descriptor stored with every box (grewkit.core.appearance), computed while the frame is decoded anyway, so that track's stitching need not decode the video a second time when [track] appearance is the same; empty: none (track reads the frames).",
    )
    tiles: list = setting(
        [],
        "Tiled detection for small people (grewkit.detect.tiles): besides the whole frame, detect on each tile [x0, y0, x1, y1] (fractions of the frame; together they must cover it), e.g. [[0, 0, 0.6, 0.6], [0.4, 0, 1, 0.6], [0, 0.4, 0.6, 1], [0.4, 0.4, 1, 1]]; empty: whole frame only.",
    )
    tile_merge_iou: float = setting(
        0.5, "Boxes from the frame and the tiles overlapping by at least this IoU are one person (the best kept)."
    )

    def __post_init__(self):
        from grewkit.detect.tiles import check_layout

        check_layout(self.tiles)
        if self.appearance:
            from grewkit.core.appearance import APPEARANCES

            if self.appearance not in APPEARANCES:
                raise ValueError(APPEARANCES.unknown(self.appearance).reason)
        if not 0.0 < self.tile_merge_iou <= 1.0:
            raise ValueError("tile_merge_iou must be in (0, 1]")
        if self.stride < 1:
            raise ValueError("stride must be >= 1")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError("min_score must be in [0, 1]")
        if self.chunk_frames < 0 or self.max_frames < 0 or self.threads < 1 or self.min_box_height < 0:
            raise ValueError("max_frames and min_box_height must be >= 0, threads >= 1")
        if self.decode_ahead < 0:
            raise ValueError("decode_ahead must be >= 0")
