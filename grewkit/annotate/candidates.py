"""Label-free ranking of cross-camera match candidates for every kept tracklet.

Each similarity comes from an ``Embedder`` (a registry entry): it maps tracklets to unit
vectors, and the ranking combines the cosine similarities of the embedders that are available
for both tracklets, weighted by the settings. Candidates are gated before ranking: never the
same camera, only cameras the topology connects, and only within the time gate. A learned
gait or re-identification embedding plugs in as one more embedder.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grewkit.annotate.media import boxes_by_tracklet, camera_boxes, iter_crops, sample_boxes
from grewkit.core.boxes import Boxes
from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry


@dataclass(frozen=True)
class TrackletInfo:
    tracklet_id: str
    video_id: str
    camera_id: str
    start_frame: int
    end_frame: int


class Embedder(ABC):
    """Maps tracklets to L2-normalised vectors; tracklets it cannot describe are left out."""

    def available(self, project) -> bool:
        return True

    @abstractmethod
    def embed(
        self, project, tracklets: list[TrackletInfo], settings, progress: Callable[[int], None] = lambda n=1: None
    ) -> dict[str, np.ndarray]: ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class AppearanceEmbedder(Embedder):
    """Colour of the upper and lower body: HSV histograms of the box centre, averaged over frames.

    Hellinger-normalised (square root of the normalised histogram) so that cosine similarity is
    the Bhattacharyya coefficient; the box centre keeps most of the background out.
    """

    h_bins, s_bins, v_bins = 16, 4, 8

    def describe(self, crop: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        parts = []
        for top, bottom in ((0.18, 0.55), (0.55, 0.95)):
            ya, yb = int(max(0, y1 + top * h)), int(min(crop.shape[0], y1 + bottom * h))
            xa, xb = int(max(0, x1 + 0.25 * w)), int(min(crop.shape[1], x2 - 0.25 * w))
            region = hsv[ya : max(yb, ya + 1), xa : max(xb, xa + 1)]
            hs = cv2.calcHist([region], [0, 1], None, [self.h_bins, self.s_bins], [0, 180, 0, 256]).ravel()
            v = cv2.calcHist([region], [2], None, [self.v_bins], [0, 256]).ravel()
            for hist in (hs, v):
                parts.append(np.sqrt(hist / max(hist.sum(), 1.0)))
        return np.concatenate(parts).astype(np.float32)

    def embed(self, project, tracklets, settings, progress=lambda n=1: None):
        videos = project.read("videos", ["video_id", "path"]).to_pydict()
        video_path = dict(zip(videos["video_id"], videos["path"]))
        by_camera: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for t in tracklets:
            by_camera[t.camera_id][t.video_id].append(t.tracklet_id)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = defaultdict(int)
        for camera, per_video in sorted(by_camera.items()):
            boxes = boxes_by_tracklet(camera_boxes(project, camera, [t for ids in per_video.values() for t in ids]))
            for video, ids in sorted(per_video.items()):
                wanted = {t: sample_boxes(boxes.get(t, Boxes.empty()), settings.descriptor_frames) for t in ids}
                for tid, _, crop, inner in iter_crops(project.resolve(video_path[video]), wanted, margin=0.0):
                    d = self.describe(crop, inner)
                    sums[tid] = sums[tid] + d if tid in sums else d
                    counts[tid] += 1
                progress(len(ids))
        return {t: v / np.linalg.norm(v).clip(1e-12) for t, v in sums.items()}


class GEIEmbedder(Embedder):
    """Gait energy images from the render stage (``sequences`` rows of modality gei64/gei128, or the
    mean of a silhouette sequence sil64/sil128), centred on the mean GEI so that the common body shape does not
    dominate the cosine similarity."""

    modalities = ("gei64", "gei128", "gei", "sil64", "sil128")  # first available wins
    size = (44, 64)  # width, height

    def _rows(self, project):
        if not project.has("sequences"):
            return {}
        seq = project.read("sequences", ["tracklet_id", "modality", "path"]).to_pydict()
        rows: dict[str, dict[str, str]] = defaultdict(dict)
        for tid, modality, path in zip(seq["tracklet_id"], seq["modality"], seq["path"]):
            if tid is not None and modality in self.modalities:
                rows[tid][modality] = path
        return rows

    def available(self, project) -> bool:
        return bool(self._rows(project))

    def embed(self, project, tracklets, settings, progress=lambda n=1: None):
        from grewkit.core.arrays import load_array

        rows = self._rows(project)
        out: dict[str, np.ndarray] = {}
        for t in tracklets:
            paths = rows.get(t.tracklet_id)
            progress(1)
            if not paths:
                continue
            modality = next(m for m in self.modalities if m in paths)
            array = np.asarray(load_array(project.resolve(paths[modality])), dtype=np.float32)
            gei = array.mean(axis=0) if array.ndim == 3 else array
            if gei.max() > 1.0:
                gei = gei / 255.0
            out[t.tracklet_id] = cv2.resize(gei, self.size, interpolation=cv2.INTER_AREA).ravel()
        if not out:
            return {}
        ids = list(out)
        matrix = np.stack([out[i] for i in ids])
        matrix = _normalise(matrix - matrix.mean(axis=0, keepdims=True))
        return dict(zip(ids, matrix))


# Embedder name -> "module:Class"; a learned embedding adds its line here. Contract: an
# ``Embedder`` subclass built with no arguments, ``cls()``; it reads what it needs in ``embed``.
EMBEDDERS: Registry[type[Embedder]] = Registry(
    "candidate embedder",
    {
        "appearance": "grewkit.annotate.candidates:AppearanceEmbedder",
        "gei": "grewkit.annotate.candidates:GEIEmbedder",
    },
)


def make_embedder(name: str) -> Embedder:
    return EMBEDDERS.get(name)()


def kept_tracklets(project) -> list[TrackletInfo]:
    if not project.has("tracklets"):
        raise GrewkitError(
            "no tracklets manifest: run the tracking stage first", path=project.manifests_dir / "tracklets.parquet"
        )
    table = project.read("tracklets", ["tracklet_id", "video_id", "camera_id", "start_frame", "end_frame", "kept"])
    table = table.filter(pc.equal(table.column("kept"), True))
    cols = table.to_pydict()
    return [
        TrackletInfo(t, v, c, int(s), int(e))
        for t, v, c, s, e in zip(
            cols["tracklet_id"], cols["video_id"], cols["camera_id"], cols["start_frame"], cols["end_frame"]
        )
    ]


def _time_spans(project, tracklets: list[TrackletInfo]) -> dict[str, tuple[float, float]] | None:
    """Absolute (start, end) seconds per tracklet, or None when any video lacks a start time."""
    videos = project.read("videos", ["video_id", "fps", "start_time"]).to_pydict()
    info = {v: (fps, start) for v, fps, start in zip(videos["video_id"], videos["fps"], videos["start_time"])}
    spans = {}
    for t in tracklets:
        fps, start = info.get(t.video_id, (None, None))
        if start is None or not fps:
            return None
        base = start.timestamp() if isinstance(start, datetime) else float(start)
        spans[t.tracklet_id] = (base + t.start_frame / fps, base + t.end_frame / fps)
    return spans


def method_name(settings) -> str:
    relevant = {
        k: v
        for k, v in asdict(settings).items()
        if k in ("embedders", "weights", "max_gap_s", "topology", "descriptor_frames", "k")
    }
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:8]
    return "+".join(settings.embedders) + "@" + digest


def rank_candidates(project, settings, *, progress_factory=None) -> pa.Table:
    """The candidates manifest: top ``settings.k`` gated candidates per kept tracklet."""
    tracklets = kept_tracklets(project)
    if not tracklets:
        raise GrewkitError("no kept tracklets to rank", path=project.manifests_dir / "tracklets.parquet")
    ids = [t.tracklet_id for t in tracklets]
    index = {t: i for i, t in enumerate(ids)}
    n = len(ids)
    vectors: dict[str, np.ndarray] = {}
    for name in settings.embedders:
        embedder = make_embedder(name)
        if not embedder.available(project):
            continue
        if progress_factory is not None:
            with progress_factory(f"embed {name}", n) as advance:
                found = embedder.embed(project, tracklets, settings, advance)
        else:
            found = embedder.embed(project, tracklets, settings)
        if not found:
            continue
        dim = len(next(iter(found.values())))
        matrix = np.zeros((n, dim), np.float32)
        present = np.zeros(n, bool)
        for tid, vec in found.items():
            if tid in index:
                matrix[index[tid]] = vec
                present[index[tid]] = True
        vectors[name] = (matrix, present)
    if not vectors:
        raise GrewkitError(f"none of the embedders {settings.embedders} could describe the tracklets")
    cameras = np.array([t.camera_id for t in tracklets])
    spans = _time_spans(project, tracklets) if settings.max_gap_s > 0 else None
    if settings.max_gap_s > 0 and spans is None:
        raise GrewkitError(
            "[annotate] max_gap_s is set but some videos have no start_time in the videos manifest",
            path=project.manifests_dir / "videos.parquet",
        )
    topology = {c: set(v) for c, v in settings.topology.items()}
    rows = {"query_tracklet_id": [], "candidate_tracklet_id": [], "rank": [], "score": [], "method": []}
    method = method_name(settings)
    for camera in sorted(set(cameras)):
        q = np.flatnonzero(cameras == camera)
        score_sum = np.zeros((len(q), n), np.float32)
        weight_sum = np.zeros((len(q), n), np.float32)
        for name, (matrix, present) in vectors.items():
            w = float(settings.weights.get(name, 1.0))
            both = present[q][:, None] & present[None, :]
            score_sum += w * (matrix[q] @ matrix.T) * both
            weight_sum += w * both
        score = np.where(weight_sum > 0, score_sum / np.maximum(weight_sum, 1e-12), -np.inf)
        allowed = cameras[None, :] != camera
        if topology:
            reach = np.array([c in topology.get(camera, set()) or camera in topology.get(c, set()) for c in cameras])
            allowed = allowed & reach[None, :]
        score = np.where(np.broadcast_to(allowed, score.shape), score, -np.inf)
        if spans is not None:
            starts = np.array([spans[t][0] for t in ids])
            ends = np.array([spans[t][1] for t in ids])
            gap = np.maximum(
                0.0, np.maximum(starts[q][:, None], starts[None, :]) - np.minimum(ends[q][:, None], ends[None, :])
            )
            score = np.where(gap <= settings.max_gap_s, score, -np.inf)
        k = min(settings.k, n)
        top = np.argsort(-score, axis=1, kind="stable")[:, :k]
        for row, qi in enumerate(q):
            rank = 0
            for ci in top[row]:
                if not np.isfinite(score[row, ci]):
                    break
                rank += 1
                rows["query_tracklet_id"].append(ids[qi])
                rows["candidate_tracklet_id"].append(ids[ci])
                rows["rank"].append(rank)
                rows["score"].append(float(score[row, ci]))
                rows["method"].append(method)
    return pa.table(rows)


def recall_at_k(
    candidates: pa.Table, truth: dict[str, str], tracklets: list[TrackletInfo], ks: tuple[int, ...] = (1, 5, 10)
) -> dict:
    """Share of queries whose true identity appears among their top-K candidates.

    Only queries that have a true match in another camera among the kept tracklets count.
    """
    camera = {t.tracklet_id: t.camera_id for t in tracklets}
    cams_of_identity: dict[str, set] = defaultdict(set)
    for t in tracklets:
        if t.tracklet_id in truth:
            cams_of_identity[truth[t.tracklet_id]].add(t.camera_id)
    eligible = [
        t.tracklet_id
        for t in tracklets
        if t.tracklet_id in truth and cams_of_identity[truth[t.tracklet_id]] - {t.camera_id}
    ]
    cols = candidates.to_pydict()
    first_hit: dict[str, int] = {}
    for q, c, r in zip(cols["query_tracklet_id"], cols["candidate_tracklet_id"], cols["rank"]):
        if q in truth and truth.get(c) == truth[q] and camera.get(c) != camera.get(q):
            first_hit[q] = min(first_hit.get(q, 10**9), r)
    out = {"queries": len(eligible)}
    for k in ks:
        hits = sum(1 for q in eligible if first_hit.get(q, 10**9) <= k)
        out[f"recall@{k}"] = hits / len(eligible) if eligible else float("nan")
    return out
