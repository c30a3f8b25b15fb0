"""Scoring detect and track against the synthetic world's exact ground truth (``grewkit synth``).

Our videos are matched to the ground truth's by file path; boxes by frame and IoU. Figures:
detector precision/recall (all people, and people at least half visible), MOTA / IDF1 / ID
switches over all videos (all tracklets, dropped parts included), and the purity of kept
tracklets (share of a tracklet's boxes whose best-overlapping true person is its majority
identity; boxes matching nobody count as impure), also without those loose boxes (identity
purity: identity errors alone), the share of true boxes a kept box covers (IoU >= 0.5; all of them,
and those at least half visible), the median kept tracklet length in seconds, and of the true people seen
by two or more cameras, how many the kept tracklets hold (majority identity) in two or more cameras.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from grewkit.bench.mot import DetectionEvaluator, MotEvaluator, PurityEvaluator
from grewkit.core.boxes import iou_matrix
from grewkit.core.project import Project


def _frames(df: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return {int(f): g for f, g in df.groupby("frame")}


def _xyxy(df: pd.DataFrame) -> np.ndarray:
    return df[["x1", "y1", "x2", "y2"]].to_numpy(np.float64) if len(df) else np.zeros((0, 4))


def evaluate_synth(project: Project, *, min_score: float = 0.3, min_visibility: float = 0.5) -> dict:
    from grewkit.synth.truth import ground_truth

    gt = ground_truth(project)
    ours = project.read("videos", ["video_id", "path"]).to_pandas()
    ours["key"] = [str(project.resolve(p).resolve()) for p in ours.path]
    theirs = gt.read("videos", ["video_id", "path"]).to_pandas()
    theirs["key"] = [str(gt.resolve(p).resolve()) for p in theirs.path]
    pairs = ours.merge(theirs, on="key", suffixes=("", "_gt"))
    gt_boxes = gt.read("boxes").to_pandas()
    identity = dict(gt.read("identities", ["tracklet_id", "identity_id"]).to_pandas().itertuples(index=False))
    gt_boxes["identity"] = gt_boxes.tracklet_id.map(identity)
    dets = project.read("detections").to_pandas()
    boxes = project.read("boxes").to_pandas()
    tracklets = project.read("tracklets").to_pandas()

    det_all, det_vis = DetectionEvaluator(), DetectionEvaluator()
    mot = MotEvaluator()
    ids = {name: i for i, name in enumerate(sorted(set(gt_boxes.identity.dropna()) | set(boxes.tracklet_id)))}
    purity_ev = PurityEvaluator()
    kept_ids = set(tracklets.tracklet_id[tracklets.kept])
    covered = covered_visible = true_boxes = true_visible = 0
    frame_offset = 0
    detect = project.settings.section("detect")
    stride, max_frames = detect.stride, detect.max_frames or 1 << 62
    n_frames = dict(project.read("videos", ["video_id", "frame_count"]).to_pandas().itertuples(index=False))
    for pair in pairs.itertuples(index=False):
        g = gt_boxes[gt_boxes.video_id == pair.video_id_gt]
        d = dets[(dets.video_id == pair.video_id) & (dets.score >= min_score)]
        b = boxes[boxes.video_id == pair.video_id]
        gf, df_, bf = _frames(g), _frames(d), _frames(b)
        # Every frame the detector ran on counts, also those where it found nobody.
        detected_frames = [f for f in range(0, n_frames[pair.video_id], stride) if f < max_frames]
        for f in detected_frames:
            gg = gf.get(f, g.iloc[:0])
            dd = _xyxy(df_.get(f, d.iloc[:0]))
            det_all.process(_xyxy(gg), dd)
            visible = gg[gg.visibility >= min_visibility]
            hidden = gg[gg.visibility < min_visibility]
            # People less than half visible are neither required nor held against the detector.
            iou_hidden = iou_matrix(_xyxy(hidden), dd)
            spare = iou_hidden.max(axis=0) >= 0.5 if iou_hidden.size else np.zeros(len(dd), bool)
            det_vis.process(_xyxy(visible), dd[~spare])
        for f in sorted(set(gf) | set(bf)):
            gg = gf.get(f, g.iloc[:0])
            bb = bf.get(f, b.iloc[:0])
            mot.process(
                frame_offset + f, [ids[i] for i in gg.identity], _xyxy(gg), [ids[t] for t in bb.tracklet_id], _xyxy(bb)
            )
            purity_ev.process(list(gg.identity), _xyxy(gg), list(bb.tracklet_id), _xyxy(bb))
            if len(gg):
                visible = gg.visibility.to_numpy() >= min_visibility
                kb = bb[bb.tracklet_id.isin(kept_ids)]
                hit = iou_matrix(_xyxy(gg), _xyxy(kb)).max(axis=1) >= 0.5 if len(kb) else np.zeros(len(gg), bool)
                true_boxes += len(gg)
                true_visible += int(visible.sum())
                covered += int(hit.sum())
                covered_visible += int((hit & visible).sum())
        frame_offset += 10**6
    purity, identity_purity = purity_ev.evaluate(), purity_ev.identity_purity()
    kept = tracklets[tracklets.kept]
    kept_purity = np.array([purity.get(t, 0.0) for t in kept.tracklet_id])
    kept_id_purity = np.array([identity_purity.get(t, np.nan) for t in kept.tracklet_id])
    kept_id_purity = kept_id_purity[~np.isnan(kept_id_purity)]
    kept_boxes = boxes[boxes.tracklet_id.isin(set(kept.tracklet_id))]
    fps = dict(project.read("videos", ["video_id", "fps"]).to_pandas().itertuples(index=False))
    seconds = (kept.n_frames / kept.video_id.map(fps)).to_numpy(np.float64)
    # People seen by two or more cameras (the ground truth's tracklets), and those kept in two or more.
    gt_cameras = gt_boxes.groupby("identity").camera_id.nunique()
    multi = set(gt_cameras.index[gt_cameras >= 2])
    kept_cameras: dict = {}
    for t, camera in zip(kept.tracklet_id, kept.camera_id):
        who = purity_ev.majority(t)
        if who is not None:
            kept_cameras.setdefault(who, set()).add(camera)
    out = {
        "videos": len(pairs),
        "det_all": det_all.evaluate(),
        "det_visible": det_vis.evaluate(),
        "mot": mot.evaluate(),
        "tracklets": len(tracklets),
        "kept": len(kept),
        "kept_purity_mean": float(kept_purity.mean()) if len(kept_purity) else float("nan"),
        "kept_purity_min": float(kept_purity.min()) if len(kept_purity) else float("nan"),
        "kept_share_pure_98": float((kept_purity >= 0.98).mean()) if len(kept_purity) else float("nan"),
        # Loose boxes left out: the share of identity errors alone (what cutting at crossings removes).
        "kept_identity_purity_mean": float(kept_id_purity.mean()) if len(kept_id_purity) else float("nan"),
        "kept_identity_purity_min": float(kept_id_purity.min()) if len(kept_id_purity) else float("nan"),
        # What the cuts cost: boxes left in kept tracklets.
        "kept_boxes": int(len(kept_boxes)),
        "gt_identities_covered": len({purity_ev.majority(t) for t in kept.tracklet_id} - {None}),
        "gt_identities": int(gt_boxes.identity.nunique()),
        "coverage": covered / max(true_boxes, 1),
        "coverage_visible": covered_visible / max(true_visible, 1),
        "kept_median_seconds": float(np.median(seconds)) if len(seconds) else 0.0,
        "multi_camera_people": len(multi),
        "kept_multi_camera_people": sum(len(kept_cameras.get(i, ())) >= 2 for i in multi),
    }
    return out
