"""Multi-object trackers by name; ``[track] tracker`` picks one.

Contract: a function ``track(detections: Boxes, *, detected_frames, fps, settings) -> Boxes``
over one video's detections (``settings`` the ``[track]`` section): it ignores detections scoring
below ``settings.min_score``, steps over the frames a detection stride skipped (``detected_frames``
lists every frame the detector ran on) and returns boxes with the tracker's own ids in ``track_id``. Numbering,
gap filling and cuts happen afterwards in grewkit.track.tracklets, the same for every tracker.
"""

from __future__ import annotations

from collections.abc import Callable

from grewkit.core.registry import Registry

TRACKERS: Registry[Callable] = Registry(
    "tracker",
    {
        "bytetrack": "grewkit.track.bytetrack:run_bytetrack",
    },
)
