"""When each tracklet was seen: which two tracklets of one camera cannot be one person.

One person is in one place at a time, so two tracklets of one camera that were both detected in
one frame are two people, whatever an annotator says. Overlapping first-to-last spans are not
proof of that: a tracker that loses a walker, starts a new track on them and then finds the old
track again leaves interleaved pieces of one walk whose spans overlap but which never have a
detection in the same frame. Treating those as "at the same time" rejects the true "same"
answer that would join them, and the piece left over passes as a distractor of its own.

So two tracklets of one video are seen together only when a frame holds a detected box of each
(boxes the tracker interpolated are guesses and do not count). Tracklets of two videos of one
camera, or when the boxes are not at hand, fall back to their time spans.

The same boxes give each tracklet's neighbours: the tracklets of its own video just before or
after it, never seen with it and within a walker's reach of it. Candidates are never of the
query's camera, so pieces of one walk that the tracker cut apart are otherwise joined only
through other cameras, and a short piece whose own candidates miss its person ends up a
distractor of that benchmark person; the round planner shows neighbours to each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pyarrow.compute as pc

# How far a walker's box centre moves per second, in box heights: people walk about 0.8 of their
# height a second (1.4 m/s at 1.7 m); 1.5 leaves room for a brisk walk, perspective and a loose box.
WALK_HEIGHTS_PER_S = 1.5


def nearest_first(pairs) -> dict[str, list[str]]:
    """(a, b, gap seconds) pairs -> each tracklet's partners, nearest in time first."""
    found: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for a, b, gap in pairs:
        found[a].append((gap, b))
        found[b].append((gap, a))
    return {t: [other for _, other in sorted(near)] for t, near in found.items()}


class Timeline:
    """``spans``: tracklet -> absolute (start, end) seconds, or None when a video lacks a start time.
    ``detected``: camera -> {tracklet -> sorted frames with a detected box}, called only for a camera
    where two tracklets' spans overlap (``of_project``'s loader reads each camera once); None: spans
    decide alone. ``fps``: video -> frames per second. ``ends``: camera -> {tracklet -> (2, 4) its
    first and last detected box, x1 y1 x2 y2}, for ``neighbours``' reach test."""

    def __init__(
        self,
        spans: dict[str, tuple[float, float]] | None = None,
        detected: Callable[[str], dict[str, np.ndarray]] | None = None,
        fps: dict[str, float] | None = None,
        ends: Callable[[str], dict[str, np.ndarray]] | None = None,
    ):
        self.spans = spans
        self.fps = fps or {}
        self._detected = detected
        self._ends = ends

    @classmethod
    def of_project(cls, project, tracklets) -> Timeline:
        """The timeline of a project's ``tracklets`` (``candidates.kept_tracklets``), its boxes read
        lazily, one camera's partition at a time."""
        from grewkit.annotate.candidates import _time_spans

        wanted = {t.tracklet_id for t in tracklets}
        cache: dict[str, tuple[dict, dict]] = {}

        def load(camera: str) -> tuple[dict, dict]:
            from grewkit.core.manifests import read_partition

            if camera in cache:
                return cache[camera]
            columns = ["tracklet_id", "frame", "score", "x1", "y1", "x2", "y2"]
            boxes = read_partition(project.manifests_dir, "boxes", camera, columns)
            boxes = boxes.filter(pc.is_valid(boxes["score"]))
            ids = boxes["tracklet_id"].to_numpy(zero_copy_only=False)
            frames = boxes["frame"].to_numpy()
            xyxy = np.stack([boxes[c].to_numpy() for c in ("x1", "y1", "x2", "y2")], axis=1) if len(ids) else None
            order = np.lexsort((frames, ids))
            ids, frames = ids[order], frames[order]
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], dtype=int)
            stops = np.r_[starts[1:], len(ids)]
            keep = [(str(ids[a]), a, b) for a, b in zip(starts, stops) if ids[a] in wanted]
            cache[camera] = (
                {t: frames[a:b] for t, a, b in keep},
                {t: xyxy[order[[a, b - 1]]] for t, a, b in keep},
            )
            return cache[camera]

        videos = project.read("videos", ["video_id", "fps"]).to_pydict()
        fps = {v: f for v, f in zip(videos["video_id"], videos["fps"]) if f}
        return cls(_time_spans(project, tracklets), lambda c: load(c)[0], fps, lambda c: load(c)[1])

    def seen_together(self, a: dict, b: dict) -> bool:
        """True when tracklets ``a`` and ``b`` (tracklets-manifest rows of one camera) were seen at
        one moment, so cannot be one person."""
        if a["video_id"] != b["video_id"]:
            spans = self.spans
            if spans and a["tracklet_id"] in spans and b["tracklet_id"] in spans:
                (s1, e1), (s2, e2) = spans[a["tracklet_id"]], spans[b["tracklet_id"]]
                return s1 <= e2 and s2 <= e1
            return False
        lo, hi = max(a["start_frame"], b["start_frame"]), min(a["end_frame"], b["end_frame"])
        if lo > hi:
            return False
        if self._detected is None:
            return True
        frames = self._detected(a["camera_id"])
        fa, fb = frames.get(a["tracklet_id"]), frames.get(b["tracklet_id"])
        if fa is None or fb is None:
            return True  # no boxes to tell by: the spans decide
        fa = fa[(fa >= lo) & (fa <= hi)]
        fb = fb[(fb >= lo) & (fb <= hi)]
        return bool(np.intersect1d(fa, fb, assume_unique=True).size)

    def neighbour_pairs(self, rows: dict[str, dict], max_gap_s: float) -> list[tuple[str, str, float]]:
        """Pairs of tracklets of ``rows`` (tracklets-manifest rows) of one video whose spans come
        within ``max_gap_s`` of each other, that were never seen together and whose boxes a walker
        could have moved between (``_within_reach``): candidates for pieces of one walk that the
        tracker cut (a suspected switch) or lost. Each is (earlier start, later start, seconds from
        the first's end to the second's start, 0 when they interleave), in video and start order.
        Videos without an fps have none."""
        by_video: dict[str, list[dict]] = defaultdict(list)
        for row in rows.values():
            by_video[row["video_id"]].append(row)
        pairs: list[tuple[str, str, float]] = []
        for video, items in sorted(by_video.items()):
            fps = self.fps.get(video)
            if not fps or max_gap_s <= 0:
                continue
            gap = max_gap_s * fps
            items.sort(key=lambda r: (r["start_frame"], r["tracklet_id"]))
            for i, a in enumerate(items):
                for b in items[i + 1 :]:
                    apart = b["start_frame"] - a["end_frame"]
                    if apart > gap:
                        break  # starts only grow from here
                    if not self.seen_together(a, b) and self._within_reach(a, b, apart / fps):
                        pairs.append((a["tracklet_id"], b["tracklet_id"], max(apart, 0) / fps))
        return pairs

    def neighbours(self, rows: dict[str, dict], max_gap_s: float) -> dict[str, list[str]]:
        """For each tracklet of ``rows``, its ``neighbour_pairs`` partners, nearest in time first."""
        return nearest_first(self.neighbour_pairs(rows, max_gap_s))

    def _within_reach(self, a: dict, b: dict, seconds: float) -> bool:
        """Whether a walker who left ``a``'s last detected box could be in ``b``'s first one
        ``seconds`` later (``b`` starts after ``a`` ends): centres at most ``1 + WALK_HEIGHTS_PER_S *
        seconds`` box heights apart. Interleaved pieces, or boxes not at hand, are within reach."""
        if seconds <= 0 or self._ends is None:
            return True
        ends = self._ends(a["camera_id"])
        ea, eb = ends.get(a["tracklet_id"]), ends.get(b["tracklet_id"])
        if ea is None or eb is None:
            return True
        last, first = ea[1], eb[0]
        height = max(last[3] - last[1], first[3] - first[1])
        shift = np.hypot((last[0] + last[2] - first[0] - first[2]) / 2, (last[1] + last[3] - first[1] - first[3]) / 2)
        return bool(shift <= height * (1.0 + WALK_HEIGHTS_PER_S * seconds))
