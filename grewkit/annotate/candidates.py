"""Label-free ranking of cross-camera match candidates for every kept tracklet.

Each similarity comes from an ``Embedder`` (a registry entry): it maps tracklets to unit
vectors, and the ranking combines the cosine similarities of the embedders that are available
for both tracklets, weighted by the settings. Candidates are gated before ranking: never the
same camera, only cameras the topology connects, and only within the time gate. A learned
gait or re-identification embedding plugs in as one more embedder.

The ranking streams (``rank_top_k``): blocks of queries in time order against the window of
tracklets the time gate lets through, a partial top-k per block, so memory stays bounded by the
block settings; ``rank_top_k_dense`` is the full-matrix reference it is checked against. GREW
scale (362K tracklets, 882 cameras): docs/benchmarks.md, ``grewkit bench candidates``.
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


@dataclass(frozen=True)
class Similarity:
    """One embedder's vectors over all tracklets: row i describes tracklet i when ``present[i]``."""

    matrix: np.ndarray  # (n, dim) float32, unit rows
    present: np.ndarray  # (n,) bool
    weight: float


def camera_reach(camera_names: list[str], topology: dict) -> np.ndarray:
    """(cameras x cameras) bool: may a candidate of camera j be shown for a query of camera i.

    Never the same camera; with a topology, only cameras it connects (in either direction).
    """
    n = len(camera_names)
    if not topology:
        return ~np.eye(n, dtype=bool)
    code = {c: i for i, c in enumerate(camera_names)}
    reach = np.zeros((n, n), bool)
    for a, targets in topology.items():
        for b in targets:
            if a in code and b in code:
                reach[code[a], code[b]] = reach[code[b], code[a]] = True
    np.fill_diagonal(reach, False)
    return reach


def _combine(products: list[np.ndarray], both: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """float32 combined scores from each embedder's float64 cosines; NaN where no embedder describes both.

    The score of a pair is the sum over the embedders describing both of ``cosine * (weight / sum
    of their weights)``, in float64, rounded to float32 once: whatever evaluated the cosines (one
    GEMM over a whole matrix or a dot product per pair), the float64 values differ by about 1e-16
    and round to the same float32 except with a chance of about 1e-8 per score. Where every
    embedder describes every pair the masks are skipped, with the same bits.
    """
    if all(bool(b.all()) for b in both):
        total = 0.0
        for w in weights:
            total += w
        coefficients: list = [w / total for w in weights]
        missing = None
    else:
        total = sum(b * w for b, w in zip(both, weights))
        with np.errstate(invalid="ignore", divide="ignore"):
            coefficients = [np.where(b, w / total, 0.0) for b, w in zip(both, weights)]
        missing = total == 0
    score = None
    for product, coefficient in zip(products, coefficients):
        if not (isinstance(coefficient, float) and coefficient == 1.0):
            product = product * coefficient
        score = product if score is None else score + product
    score = score.astype(np.float32)
    if missing is not None:
        score[missing] = np.nan
    return score


def pair_scores(similarities: list[Similarity], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float32 combined scores of the tracklet pairs (a[i], b[i]), indices into the similarities'
    rows, computed exactly (float64 dot products, ``_combine``); NaN where no embedder describes both."""
    return _combine(
        [np.einsum("ij,ij->i", s.matrix[a].astype(np.float64), s.matrix[b].astype(np.float64)) for s in similarities],
        [s.present[a] & s.present[b] for s in similarities],
        [float(s.weight) for s in similarities],
    )


# Packed sort keys: high 32 bits order scores from highest to lowest, low 32 bits are the
# candidate's index in the tracklets manifest, so one ascending order ranks by score and breaks
# ties by manifest order.
_NO_CANDIDATE = np.uint64(np.iinfo(np.uint64).max)


def _pack(score: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Keys of finite float32 scores of the candidates ``columns``."""
    bits = (score + np.float32(0.0)).view(np.uint32)  # + 0.0 turns -0.0 into 0.0: equal scores, equal keys
    negative = (bits >> np.uint32(31)).astype(bool)
    descending = np.where(negative, bits, ~bits & np.uint32(0x7FFFFFFF))
    return (descending.astype(np.uint64) << np.uint64(32)) | columns.astype(np.uint64)


def _decode(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys -> (candidate index or -1, float32 score or NaN)."""
    valid = keys != _NO_CANDIDATE
    descending = (keys >> np.uint64(32)).astype(np.uint32)
    negative = (descending >> np.uint32(31)).astype(bool)
    bits = np.where(negative, descending, ~descending & np.uint32(0x7FFFFFFF))
    index = np.where(valid, (keys & np.uint64(0xFFFFFFFF)).astype(np.int64), -1)
    return index, np.where(valid, bits.view(np.float32), np.float32(np.nan))


def _merge(running: np.ndarray, rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The best ``k`` keys per row, sorted, of ``running`` (Q x k) and new (row, key) entries."""
    k = running.shape[1]
    keys = np.concatenate([running.ravel(), keys])
    owner = np.concatenate([np.repeat(np.arange(len(running)), k), rows])
    order = np.lexsort((keys, owner))
    first = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=len(running)))[:-1]])
    return keys[order][first[:, None] + np.arange(k)[None, :]]


def _sparse_nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a mostly-False 2-D mask, reading it 8 bytes at a time (several times faster)."""
    flat = mask.reshape(-1)
    if len(flat) % 8:
        flat = np.concatenate([flat, np.zeros(8 - len(flat) % 8, bool)])
    words = np.flatnonzero(flat.view(np.uint64))
    word, byte = np.nonzero(flat.reshape(-1, 8)[words])
    return np.divmod(words[word] * 8 + byte, mask.shape[1])


def rank_top_k(
    similarities: list[Similarity],
    cameras: np.ndarray,
    reach: np.ndarray,
    starts: np.ndarray | None,
    ends: np.ndarray | None,
    *,
    k: int,
    max_gap_s: float,
    query_block: int,
    candidate_block: int,
    on_block: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` gated candidates of every tracklet, streamed: memory O(n k + one block), not O(n^2).

    Queries go in blocks of ``query_block`` in order of start time; with a time gate, a block only
    scores the window of start-sorted tracklets whose spans can come within ``max_gap_s`` of one
    of its queries, in chunks of ``candidate_block``. Each chunk is scored by a float32 GEMM whose
    error has a known bound (``margin``); only entries that bound lets into the top k (above the
    running k-th best, or the chunk's own k-th best, less the margin: a handful per query) are
    scored again exactly and merged. The result is ``rank_top_k_dense``'s: score descending, ties
    by manifest order. Returns (n x k) candidate indices (-1: none) and float32 scores.
    ``on_block(queries, candidates)`` is told the shape of every block scored.
    """
    n = len(cameras)
    k = min(k, n)
    if n >= 2**32:
        raise ValueError(f"{n} tracklets: the packed sort keys hold at most 2**32")
    if any(s.weight < 0 for s in similarities) or sum(s.weight for s in similarities) <= 0:
        raise ValueError("similarity weights must be >= 0, and not all 0")
    weights = [float(s.weight) for s in similarities]
    # |float32 GEMM - exact| <= (dim + few) * 2^-24 * |q| |c| for any summation order; the
    # combination's coefficients sum to 1. Doubled for safety.
    norm = max(float(np.linalg.norm(s.matrix, axis=1).max(initial=0.0)) for s in similarities)
    dim = max(s.matrix.shape[1] for s in similarities)
    margin = np.float32(2 * (dim + len(similarities) + 4) * 2.0**-24 * max(norm, 1.0) ** 2)
    gated = max_gap_s > 0
    if gated:
        order = np.lexsort((np.arange(n), starts))
        sorted_starts = starts[order]
        # Running maximum of the ends in start order: the first tracklet whose prefix reaches a
        # query block's start minus the gap is the first that can pass the gate.
        reach_end = np.maximum.accumulate(ends[order])
        # Window bounds and "surely passes" shortcuts stay this far inside the exact per-pair
        # gate, against rounding: a few ulps of the largest time.
        slack = 8 * float(np.spacing(float(np.abs(sorted_starts).max() + np.abs(ends).max() + max_gap_s)))
    else:
        order = np.arange(n)
    cameras = cameras.astype(np.int32)  # compared block-wide: the narrower, the cheaper
    best = np.full((n, k), _NO_CANDIDATE)
    full_reach = bool(reach.sum() == len(reach) * (len(reach) - 1))  # no topology: only "another camera"
    for q0 in range(0, n, query_block):
        q = order[q0 : q0 + query_block]
        q_vectors = [s.matrix[q] for s in similarities]
        q_present = [s.present[q] for s in similarities]
        q_cameras = cameras[q]
        q_reach = None if full_reach else reach[q_cameras]
        if gated:
            q_starts, q_ends = starts[q], ends[q]
            lo = int(np.searchsorted(reach_end, q_starts.min() - max_gap_s - slack, "left"))
            hi = int(np.searchsorted(sorted_starts, q_ends.max() + max_gap_s + slack, "right"))
        else:
            lo, hi = 0, n
        running = np.full((len(q), k), _NO_CANDIDATE)
        threshold = np.full(len(q), -np.inf, np.float32)  # the running k-th best exact score
        for c0 in range(lo, hi, candidate_block):
            c = order[c0 : min(hi, c0 + candidate_block)]
            if on_block is not None:
                on_block(len(q), len(c))
            if full_reach:
                allowed = q_cameras[:, None] != cameras[c][None, :]
            else:
                allowed = np.take(q_reach, cameras[c], axis=1)
            if gated:
                # Columns are in start order: only the chunk's ends can fail each half of the gate.
                c_starts = sorted_starts[c0 : c0 + len(c)]
                a = int(np.searchsorted(c_starts, q_ends.min() + max_gap_s - slack, "right"))
                if a < len(c):
                    allowed[:, a:] &= c_starts[None, a:] - q_ends[:, None] <= max_gap_s
                b = int(np.searchsorted(c_starts, q_starts.max() - max_gap_s + slack, "left"))
                if b > 0:
                    allowed[:, :b] &= q_starts[:, None] - ends[c[:b]][None, :] <= max_gap_s
            c_present = [s.present[c] for s in similarities]
            complete = all(bool(qp.all()) and bool(cp.all()) for qp, cp in zip(q_present, c_present))
            both = [] if complete else [qp[:, None] & cp[None, :] for qp, cp in zip(q_present, c_present)]
            approx = None
            for i, (qv, s, w) in enumerate(zip(q_vectors, similarities, weights)):
                product = qv @ s.matrix[c].T
                if not complete:
                    product *= np.float32(w) * both[i]
                elif len(similarities) > 1:
                    product *= np.float32(w / sum(weights))
                approx = product if approx is None else approx + product
            if not complete:
                total = sum(np.float32(w) * x for w, x in zip(weights, both))
                allowed &= total > 0
                approx /= np.where(total > 0, total, np.float32(1.0))
            cutoff = threshold - margin
            open_rows = np.flatnonzero(~np.isfinite(threshold))
            if len(open_rows) and len(c) > k:
                # Rows without k candidates yet: the chunk's own k-th best bounds what can enter.
                part = np.where(allowed[open_rows], approx[open_rows], -np.inf)
                kth = np.partition(part, len(c) - k, axis=1)[:, len(c) - k]
                cutoff[open_rows] = np.maximum(cutoff[open_rows], kth - 2 * margin)
            rows, cols = _sparse_nonzero(allowed & (approx >= cutoff[:, None]))
            if not len(rows):
                continue
            exact = pair_scores(similarities, q[rows], c[cols])
            keep = np.isfinite(exact)
            running = _merge(running, rows[keep], _pack(exact[keep], c[cols[keep]]))
            worst = running[:, -1]
            threshold = np.where(worst == _NO_CANDIDATE, -np.inf, _decode(worst)[1]).astype(np.float32)
        best[q] = running
    return _decode(best)


def rank_top_k_dense(
    similarities: list[Similarity],
    cameras: np.ndarray,
    reach: np.ndarray,
    starts: np.ndarray | None,
    ends: np.ndarray | None,
    *,
    k: int,
    max_gap_s: float,
    queries: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference ``rank_top_k`` is checked against: per query camera, the (queries x all
    tracklets) score matrix, the gates as whole-row masks and a full stable sort. Quadratic in
    memory and time; run it on a few ``queries`` (rows of the result, in that order)."""
    n = len(cameras)
    k = min(k, n)
    queries = np.arange(n) if queries is None else np.asarray(queries)
    weights = [float(s.weight) for s in similarities]
    everyone = [s.matrix.astype(np.float64) for s in similarities]
    index = np.full((len(queries), k), -1, np.int64)
    scores = np.full((len(queries), k), np.nan, np.float32)
    for camera in np.unique(cameras[queries]):
        rows = np.flatnonzero(cameras[queries] == camera)
        q = queries[rows]
        score = _combine(
            [s.matrix[q].astype(np.float64) @ e.T for s, e in zip(similarities, everyone)],
            [s.present[q][:, None] & s.present[None, :] for s in similarities],
            weights,
        )
        score = np.where(np.isnan(score), -np.inf, score)
        score = np.where(reach[camera][cameras][None, :], score, -np.inf)
        if max_gap_s > 0:
            gap = np.maximum(
                0.0, np.maximum(starts[q][:, None], starts[None, :]) - np.minimum(ends[q][:, None], ends[None, :])
            )
            score = np.where(gap <= max_gap_s, score, -np.inf)
        top = np.argsort(-(score + np.float32(0.0)), axis=1, kind="stable")[:, :k]
        for local, (row, ranked) in enumerate(zip(rows, top)):
            for rank, ci in enumerate(ranked):
                if not np.isfinite(score[local, ci]):
                    break
                index[row, rank] = ci
                scores[row, rank] = score[local, ci]
    return index, scores


def candidates_table(
    ids: list[str], camera_names: list[str], cameras: np.ndarray, index: np.ndarray, scores: np.ndarray, method: str
) -> pa.Table:
    """The candidates manifest from (n x k) ranks: queries by camera name then manifest order."""
    by_camera_name = np.argsort(np.argsort(np.array(camera_names, dtype=object)))
    query_order = np.lexsort((np.arange(len(ids)), by_camera_name[cameras]))
    index, scores = index[query_order], scores[query_order]
    valid = index >= 0
    ids_array = np.array(ids, dtype=object)
    queries = np.broadcast_to(query_order[:, None], index.shape)[valid]
    ranks = np.broadcast_to(np.arange(1, index.shape[1] + 1), index.shape)[valid]
    return pa.table(
        {
            "query_tracklet_id": pa.array(ids_array[queries], pa.string()),
            "candidate_tracklet_id": pa.array(ids_array[index[valid]], pa.string()),
            "rank": pa.array(ranks, pa.int64()),
            "score": pa.array(scores[valid].astype(np.float64), pa.float64()),
            "method": pa.array([method] * int(valid.sum()), pa.string()),
        }
    )


def rank_vectors(
    ids: list[str],
    camera_ids: list[str],
    similarities: list[Similarity],
    spans: tuple[np.ndarray, np.ndarray] | None,
    settings,
    *,
    on_block: Callable[[int, int], None] | None = None,
) -> pa.Table:
    """The candidates manifest from tracklet vectors: what ``rank_candidates`` does after embedding."""
    camera_names, cameras = np.unique(np.array(camera_ids, dtype=object), return_inverse=True)
    camera_names = [str(c) for c in camera_names]
    reach = camera_reach(camera_names, settings.topology)
    starts, ends = spans if spans is not None else (None, None)
    index, scores = rank_top_k(
        similarities,
        cameras,
        reach,
        starts,
        ends,
        k=settings.k,
        max_gap_s=settings.max_gap_s,
        query_block=settings.rank_query_block,
        candidate_block=settings.rank_candidate_block,
        on_block=on_block,
    )
    return candidates_table(ids, camera_names, cameras, index, scores, method_name(settings))


def embed_tracklets(project, settings, *, progress_factory=None) -> tuple[list[TrackletInfo], list[Similarity]]:
    """The kept tracklets and each available embedder's vectors of them (``settings.embedders``)."""
    tracklets = kept_tracklets(project)
    if not tracklets:
        raise GrewkitError("no kept tracklets to rank", path=project.manifests_dir / "tracklets.parquet")
    index = {t.tracklet_id: i for i, t in enumerate(tracklets)}
    n = len(tracklets)
    similarities: list[Similarity] = []
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
        similarities.append(Similarity(matrix, present, float(settings.weights.get(name, 1.0))))
    if not similarities:
        raise GrewkitError(f"none of the embedders {settings.embedders} could describe the tracklets")
    return tracklets, similarities


def rank_embedded(project, settings, tracklets: list[TrackletInfo], similarities: list[Similarity]) -> pa.Table:
    """The candidates manifest of tracklets already embedded (``embed_tracklets``)."""
    ids = [t.tracklet_id for t in tracklets]
    spans = None
    if settings.max_gap_s > 0:
        by_id = _time_spans(project, tracklets)
        if by_id is None:
            raise GrewkitError(
                "[annotate] max_gap_s is set but some videos have no start_time in the videos manifest",
                path=project.manifests_dir / "videos.parquet",
            )
        spans = (np.array([by_id[t][0] for t in ids]), np.array([by_id[t][1] for t in ids]))
    return rank_vectors(ids, [t.camera_id for t in tracklets], similarities, spans, settings)


def rank_candidates(project, settings, *, progress_factory=None) -> pa.Table:
    """The candidates manifest: top ``settings.k`` gated candidates per kept tracklet."""
    tracklets, similarities = embed_tracklets(project, settings, progress_factory=progress_factory)
    return rank_embedded(project, settings, tracklets, similarities)


def score_neighbours(
    project, settings, tracklets: list[TrackletInfo], similarities: list[Similarity], timeline=None
) -> pa.Table:
    """The neighbours manifest: the kept tracklets of one video that may be pieces of one walk
    (``Timeline.neighbour_pairs`` within ``settings.neighbour_gap_s``), each pair scored with the
    candidates' combined similarity, so the resolver can give it an informed prior."""
    from grewkit.annotate.timeline import Timeline

    timeline = timeline or Timeline.of_project(project, tracklets)
    rows = {t.tracklet_id: asdict(t) for t in tracklets}
    pairs = timeline.neighbour_pairs(rows, settings.neighbour_gap_s)
    index = {t.tracklet_id: i for i, t in enumerate(tracklets)}
    a = np.array([index[p[0]] for p in pairs], dtype=np.int64)
    b = np.array([index[p[1]] for p in pairs], dtype=np.int64)
    score = pair_scores(similarities, a, b)
    return pa.table(
        {
            "first_tracklet_id": pa.array([p[0] for p in pairs], pa.string()),
            "second_tracklet_id": pa.array([p[1] for p in pairs], pa.string()),
            "gap_s": pa.array([p[2] for p in pairs], pa.float32()),
            "score": pa.array([None if np.isnan(x) else float(x) for x in score], pa.float32()),
            "method": pa.array(
                [f"{method_name(settings)}/within {settings.neighbour_gap_s:g}s"] * len(pairs), pa.string()
            ),
        }
    )


def neighbour_lists(neighbours: pa.Table) -> dict[str, list[str]]:
    """Tracklet -> its neighbours (the neighbours manifest), nearest in time first."""
    from grewkit.annotate.timeline import nearest_first

    cols = neighbours.select(["first_tracklet_id", "second_tracklet_id", "gap_s"]).to_pydict()
    return nearest_first(zip(cols["first_tracklet_id"], cols["second_tracklet_id"], cols["gap_s"]))


def neighbour_scores(neighbours: pa.Table) -> dict[tuple[str, str], float]:
    """Unordered pair (``resolve._pair``) -> the neighbours manifest's score, where it has one."""
    from grewkit.annotate.resolve import _pair

    cols = neighbours.select(["first_tracklet_id", "second_tracklet_id", "score"]).to_pydict()
    return {
        _pair(a, b): float(s)
        for a, b, s in zip(cols["first_tracklet_id"], cols["second_tracklet_id"], cols["score"])
        if s is not None
    }


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
