"""``grewkit bench detect``: detector precision/recall on TUD-Campus and speed on real frames.

Speeds are detector time only (frames are decoded beforehand), single-threaded as each worker
of ``grewkit detect`` runs by default, in frames per second of this machine; the decode speed of
the same vtest.avi frames is measured in the same run for comparison.
"""

from __future__ import annotations

import time
from itertools import islice
from pathlib import Path

import click
import numpy as np

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import JSON_OPTION, emit, machine, markdown_table
from grewkit.core.boxes import Boxes

# The score at which each backend's boxes are used (SSDLite: [track] min_score; HOG: SVM margin 0; MOG2: any blob).
THRESHOLDS = {"hog": 0.5, "mog2": 0.0}
DEFAULT_THRESHOLD = 0.3


#: Person height bins (pixels of gt.txt's boxes) for the recall and box IoU by size.
HEIGHT_BINS = (150, 250)


def by_height(seq, detections: Boxes, *, threshold: float, iou: float = 0.5) -> dict:
    """Recall and mean box IoU of the matched boxes per person height bin (< 150, 150-250, >= 250 px), one-to-one
    optimal matching per frame as in DetectionEvaluator."""
    from scipy.optimize import linear_sum_assignment

    from grewkit.core.boxes import iou_matrix

    n, tp, ious = np.zeros(3), np.zeros(3), [[], [], []]
    for i in range(len(seq.frames)):
        g = seq.gt.at(i + 1).xyxy
        h = detections.xyxy[(detections.frame == i) & (detections.score >= threshold)]
        b = np.digitize(g[:, 3] - g[:, 1], HEIGHT_BINS)
        n += np.bincount(b, minlength=3)
        if len(g) and len(h):
            m = iou_matrix(g, h)
            for r, c in zip(*linear_sum_assignment(-m)):
                if m[r, c] >= iou:
                    tp[b[r]] += 1
                    ious[b[r]].append(float(m[r, c]))
    return {
        "recall_by_height": [float(t / max(k, 1)) for t, k in zip(tp, n)],
        "iou_by_height": [float(np.mean(x)) if x else float("nan") for x in ious],
        "people_by_height": [int(k) for k in n],
    }


def compare_detectors(
    data: Path, names: list[str], *, vtest_frames: int, backends_file: str = "", tiles: list | None = None
) -> dict:
    from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, detection_scores
    from grewkit.core.frames import read_frames
    from grewkit.detect.registry import make_detector

    seq = MotSequence.open(require(data / "tud_campus", "TUD-Campus folder"), fps=TUD_CAMPUS_FPS)
    tud_images = [img for _, img in seq.images()]
    started = time.perf_counter()
    vtest = [img for _, img in islice(read_frames(require(data / "vtest.avi", "vtest.avi")), vtest_frames or None)]
    vtest_decode_fps = len(vtest) / (time.perf_counter() - started)
    rows = []
    for entry in names + ([f"{n}+tiles" for n in names if n.startswith("ssdlite")] if tiles else []):
        name = entry.removesuffix("+tiles")
        detector = make_detector(name, backends_file=backends_file, threads=1)
        if entry.endswith("+tiles"):
            from grewkit.detect.settings import DetectSettings
            from grewkit.detect.tiles import TiledDetector

            detector = TiledDetector(detector, tiles, merge_iou=DetectSettings().tile_merge_iou)
        results = {}
        for label, images in (("tud", tud_images), ("vtest", vtest)):
            detector.reset()
            started = time.perf_counter()
            found = [detector.detect(image).in_frame(i) for i, image in enumerate(images)]
            results[label] = {"fps": len(images) / (time.perf_counter() - started), "boxes": Boxes.concat(found)}
        threshold = THRESHOLDS.get(name, DEFAULT_THRESHOLD)
        tud = results["tud"]
        for th in [threshold] + ([0.1, 0.5] if threshold == DEFAULT_THRESHOLD else []):
            pr = detection_scores(seq, tud["boxes"], threshold=th)
            main = th == threshold
            rows.append(
                {
                    "backend": entry if main else f"{entry} @ {th:g}",
                    "threshold": th,
                    **{k: pr[k] for k in ("precision", "recall", "tp", "fp", "fn")},
                    **by_height(seq, tud["boxes"], threshold=th),
                    "tud_fps": tud["fps"] if main else None,
                    "vtest_fps": results["vtest"]["fps"] if main else None,
                    "vtest_boxes_per_frame": float((results["vtest"]["boxes"].score >= th).sum()) / len(vtest)
                    if main
                    else None,
                }
            )
    return {"machine": machine(), "vtest_decode_fps": vtest_decode_fps, "vtest_frames": len(vtest), "rows": rows}


def markdown(result: dict) -> str:
    def num(v, fmt):
        return "" if v is None else format(v, fmt)

    return (
        f"machine: {result['machine']}; vtest.avi decode {result['vtest_decode_fps']:.0f} frames/s "
        f"({result['vtest_frames']} frames)\n\n"
        + markdown_table(
            [
                "backend",
                "score >=",
                "TUD-Campus precision @IoU0.5",
                "recall",
                "TP/FP/FN",
                "recall by height < 150 / 150-250 / >= 250 px",
                "box IoU by height",
                "frames/s 640x480 (TUD)",
                "frames/s 768x576 (vtest)",
                "vtest boxes/frame",
            ],
            [
                (
                    r["backend"],
                    f"{r['threshold']:g}",
                    f"{r['precision']:.3f}",
                    f"{r['recall']:.3f}",
                    f"{r['tp']}/{r['fp']}/{r['fn']}",
                    " / ".join(f"{x:.3f}" for x in r["recall_by_height"]),
                    " / ".join(f"{x:.3f}" for x in r["iou_by_height"]),
                    num(r["tud_fps"], ".1f"),
                    num(r["vtest_fps"], ".1f"),
                    num(r["vtest_boxes_per_frame"], ".1f"),
                )
                for r in result["rows"]
            ],
        )
    )


@click.command("detect")
@SHARED_DATA_OPTION
@click.option(
    "--backends",
    default="ssdlite,ssdlite-int8,hog,mog2",
    show_default=True,
    help="Comma-separated detector names from the backends file.",
)
@click.option("--backends-file", default="", help="Your own detectors.toml (default: grewkit's).")
@click.option("--vtest-frames", default=200, show_default=True, help="vtest.avi frames to time the detectors on.")
@click.option(
    "--tiles",
    default="",
    help="Also each SSDLite backend with tiled detection on a COLSxROWS grid of tiles overlapping by 20 % "
    "(e.g. 2x2; grewkit.detect.tiles).",
)
@JSON_OPTION
def bench_detect_command(data, backends, backends_file, vtest_frames, tiles, as_json):
    """Precision/recall at IoU 0.5 on TUD-Campus and detector speed, for each backend.

    \b
    Example:
      grewkit bench detect --shared-data ../shared/data --backends ssdlite,ssdlite-int8
      grewkit bench detect --shared-data ../shared/data --backends ssdlite --tiles 2x2
    """
    layout = None
    if tiles:
        from grewkit.detect.tiles import grid_from_text

        try:
            layout = grid_from_text(tiles)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--tiles") from None
    result = compare_detectors(
        data,
        [b for b in backends.split(",") if b],
        vtest_frames=vtest_frames,
        backends_file=backends_file,
        tiles=layout,
    )
    emit(result, as_json, markdown)
