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

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import JSON_OPTION, emit, machine, markdown_table
from grewkit.core.boxes import Boxes

# The score at which each backend's boxes are used (SSDLite: [track] min_score; HOG: SVM margin 0; MOG2: any blob).
THRESHOLDS = {"hog": 0.5, "mog2": 0.0}
DEFAULT_THRESHOLD = 0.3


def compare_detectors(data: Path, names: list[str], *, vtest_frames: int, backends_file: str = "") -> dict:
    from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, detection_scores
    from grewkit.core.frames import read_frames
    from grewkit.detect.registry import make_detector

    seq = MotSequence.open(require(data / "tud_campus", "TUD-Campus folder"), fps=TUD_CAMPUS_FPS)
    tud_images = [img for _, img in seq.images()]
    started = time.perf_counter()
    vtest = [img for _, img in islice(read_frames(require(data / "vtest.avi", "vtest.avi")), vtest_frames or None)]
    vtest_decode_fps = len(vtest) / (time.perf_counter() - started)
    rows = []
    for name in names:
        detector = make_detector(name, backends_file=backends_file, threads=1)
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
                    "backend": name if main else f"{name} @ {th:g}",
                    "threshold": th,
                    **{k: pr[k] for k in ("precision", "recall", "tp", "fp", "fn")},
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
    default="ssdlite,ssdlite-fp32,hog,mog2",
    show_default=True,
    help="Comma-separated detector names from the backends file.",
)
@click.option("--backends-file", default="", help="Your own detectors.toml (default: grewkit's).")
@click.option("--vtest-frames", default=200, show_default=True, help="vtest.avi frames to time the detectors on.")
@JSON_OPTION
def bench_detect_command(data, backends, backends_file, vtest_frames, as_json):
    """Precision/recall at IoU 0.5 on TUD-Campus and detector speed, for each backend.

    \b
    Example:
      grewkit bench detect --shared-data ../shared/data --backends ssdlite,ssdlite-fp32
    """
    result = compare_detectors(
        data, [b for b in backends.split(",") if b], vtest_frames=vtest_frames, backends_file=backends_file
    )
    emit(result, as_json, markdown)
