"""How often does a pedestrian detector trained on real people find the synthetic walkers? (HOG as a stand-in.)

    .venv/bin/python tools/hog_recall_synth.py PROJECT --every 50
    .venv/bin/python tools/hog_recall_synth.py --tud /work/shared/data/tud_campus --every 5

Recall of ground-truth people (visibility > 0.8 for synth, inside the frame for TUD, taller than
80 px) at IoU 0.4 by OpenCV's default HOG people detector on frames upscaled 1.5x, score > 0.3.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pyarrow.compute as pc


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def detect(hog, img) -> list[tuple[float, float, float, float]]:
    up = cv2.resize(img, None, fx=1.5, fy=1.5)
    rects, weights = hog.detectMultiScale(up, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [(x / 1.5, y / 1.5, (x + w) / 1.5, (y + h) / 1.5) for (x, y, w, h), s in zip(rects, np.ravel(weights)) if s > 0.3]


def frames_synth(project_dir: str, every: int):
    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth

    project = Project.open(project_dir)
    gt = ground_truth(project)
    boxes = gt.read("boxes")
    for v in gt.read("videos").to_pylist():
        cap = cv2.VideoCapture(str(project.resolve(v["path"])))
        rows = boxes.filter(pc.equal(boxes["video_id"], v["video_id"])).to_pylist()
        for f in range(0, v["frame_count"], every):
            cap.set(cv2.CAP_PROP_POS_FRAMES, f)
            ok, img = cap.read()
            if not ok:
                break
            here = [r for r in rows if r["frame"] == f]
            everyone = [(r["x1"], r["y1"], r["x2"], r["y2"]) for r in here]
            wanted = [(r["x1"], r["y1"], r["x2"], r["y2"]) for r in here if r["visibility"] > 0.8 and r["y2"] - r["y1"] > 80]
            yield img, wanted, everyone


def frames_tud(folder: str, every: int):
    gt = np.loadtxt(f"{folder}/gt/gt.txt", delimiter=",")
    for f in range(1, int(gt[:, 0].max()) + 1, every):
        img = cv2.imread(f"{folder}/img1/{f:06d}.jpg")
        everyone = [(r[2], r[3], r[2] + r[4], r[3] + r[5]) for r in gt[gt[:, 0] == f]]
        wanted = [b for b in everyone if b[3] - b[1] > 80 and b[0] >= 0 and b[2] <= img.shape[1]]
        yield img, wanted, everyone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", nargs="?")
    parser.add_argument("--tud", default=None, help="A MOT-format folder (img1/, gt/gt.txt) instead of a synth project.")
    parser.add_argument("--every", type=int, default=25)
    args = parser.parse_args()
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    frames = frames_tud(args.tud, args.every) if args.tud else frames_synth(args.project, args.every)
    total = hits = false_pos = 0
    for img, wanted, everyone in frames:
        dets = detect(hog, img)
        total += len(wanted)
        hits += sum(any(iou(g, d) > 0.4 for d in dets) for g in wanted)
        false_pos += sum(not any(iou(g, d) > 0.4 for g in everyone) for d in dets)
    print(f"HOG recall: {hits}/{total} = {hits / max(total, 1):.2f}; detections matching nobody: {false_pos}")


if __name__ == "__main__":
    main()
