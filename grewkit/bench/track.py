"""``grewkit bench track``: MOT metrics on TUD-Campus and the speed of the real pipeline on a video.

1. Checks the metric code first: motmetrics' bundled tracker output (motmetrics_tud test.txt)
   against gt.txt must give the published reference scores (MOTA 52.65 %, IDF1 55.77 %, 7 ID
   switches on TUD-Campus); the benchmark stops if it does not.
2. TUD-Campus, or any MOTChallenge-layout folder given with ``--sequence`` (img1/, gt/gt.txt, optional
   det/det.txt, seqinfo.ini or ``--fps``): the detector + ByteTrack with the default [track] settings at
   several detection strides, and ByteTrack on the public detections when there are any, their scores
   mapped by ``--det-scores`` (TUD-Campus's det.txt scores are raw DPM margins: divide:50 by default).
3. A real video (default vtest.avi, 795 frames): ``grewkit ingest``, ``detect`` and ``track`` run for
   real on a temporary project, timed against a pure decode of the same file in the same run.
   The executor is created before the stages, so its start-up (worker processes, preloaded
   libraries) is inside the detect time, as in a ``grewkit run``.
4. ``--h264``: the same on a 1920x1080 H.264 clip made from the video's first ``--h264-frames``
   frames (cv2.resize INTER_CUBIC, encoded with libx264 through PyAV into a temporary folder and
   deleted after the run), without and with ``--tiles``: footage whose decoding costs what camera
   footage costs, and whose people are small. Without PyAV (the ``h264`` extra) OpenCV's own
   FFmpeg is tried for H.264 and then MPEG-4 Part 2 is written; the codec used is reported.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from itertools import islice
from pathlib import Path

import click
import numpy as np

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table
from grewkit.core.boxes import Boxes
from grewkit.detect.settings import DetectSettings

REFERENCE = {"TUD-Campus": (0.5265, 0.5577, 7), "TUD-Stadtmitte": (0.5640, 0.6446, 7)}
METRICS = ("mota", "idf1", "num_switches", "num_false_positives", "num_misses", "mostly_tracked")


def check_metric_code(data: Path) -> list[dict]:
    from grewkit.bench.mot import read_mot, score_mot_files

    rows = []
    for name, (mota, idf1, switches) in REFERENCE.items():
        folder = require(data / "motmetrics_tud" / name, "motmetrics_tud folder")
        r = score_mot_files(read_mot(folder / "gt.txt"), read_mot(folder / "test.txt"))
        if not (abs(r["mota"] - mota) < 5e-5 and abs(r["idf1"] - idf1) < 5e-5 and int(r["num_switches"]) == switches):
            raise click.ClickException(f"metric check failed on {name}: {r}")
        rows.append({"run": f"reference check {name}: motmetrics' test.txt", **{k: float(r[k]) for k in METRICS}})
    return rows


def sequence_figures(seq, name: str, *, backend: str, strides: list[int], det_scores: str, settings=None) -> list[dict]:
    """MOT rows and kept-tracklet figures of one sequence; ``settings``: TrackSettings (default: the defaults)."""
    from grewkit.bench.mot import score_mot_files
    from grewkit.bench.mot_sequence import detect_sequence, scale_scores, track_to_mot
    from grewkit.detect.registry import make_detector, track_threshold
    from grewkit.track.settings import TrackSettings

    given = settings or TrackSettings()
    # Public detections first: a malformed det.txt stops the run before minutes of detection.
    pub = seq.public_detections() if seq.has_public_detections() else None
    rows, kept = [], []
    if strides:
        # The detector's own score thresholds for the tracker, where [track] leaves them to it.
        settings = given.for_detector(track_threshold(backend))
        plain = dataclasses.replace(settings, stitch=False)
        dets = detect_sequence(seq, make_detector(backend, threads=1), min_score=0.1)
        for stride in strides:
            for label, s in (
                (("", settings), (", without stitching", plain)) if stride == strides[0] else (("", settings),)
            ):
                r = score_mot_files(
                    seq.gt,
                    track_to_mot(
                        dets[dets.frame % stride == 0],
                        n_frames=len(seq.frames),
                        fps=seq.fps,
                        settings=s,
                        stride=stride,
                        frames=seq.read,
                    ),
                )
                rows.append(
                    {
                        "run": f"{name}: {backend} + ByteTrack, detect stride {stride}{label}",
                        **{m: float(r[m]) for m in METRICS},
                    }
                )
        for label, s in (("", settings), (", without stitching", plain)):
            k = kept_figures(seq, dets, s)
            kept.append({"run": f"{name}: {backend}, stride {strides[0]}{label}", **k})
            rows.append(
                {
                    "run": f"{name}: {backend}, stride {strides[0]}{label}, all tracklets of the track stage "
                    "(its cuts as ids)",
                    **k["stage_mot"],
                }
            )
    if pub is not None:
        pub = Boxes(pub.frame - 1, pub.xyxy, scale_scores(pub.score, det_scores))
        # No detector table says how these scores run: thresholds left to the detector take the fallback.
        settings, plain = given, dataclasses.replace(given, stitch=False)
        for label, s in (("", settings), (", without stitching", plain)):
            r = score_mot_files(
                seq.gt, track_to_mot(pub, n_frames=len(seq.frames), fps=seq.fps, settings=s, frames=seq.read)
            )
            rows.append(
                {
                    "run": f"{name}: public det.txt ({det_scores}) + ByteTrack{label}",
                    **{m: float(r[m]) for m in METRICS},
                }
            )
    return rows, kept


def kept_figures(seq, dets: Boxes, settings) -> dict:
    """What the track stage keeps on a sequence (cuts, stitching, quality filters): box purity of the kept
    tracklets (boxes on their majority person at IoU >= 0.5), identity purity (the same over the boxes on
    anybody), the share of true boxes a kept box covers (IoU >= 0.5), and their lengths; ``stage_mot``, the MOT
    metrics of all the tracklets the stage writes (kept and dropped parts: every box it found, with the ids its
    cuts and stitching gave them), beside the whole trajectories of the other rows."""
    from grewkit.bench.mot import PurityEvaluator, score_mot_files
    from grewkit.bench.mot_sequence import track_sequence
    from grewkit.core.boxes import iou_matrix
    from grewkit.export.mot import tracklets_to_mot
    from grewkit.track.tracklets import estimate_visibility, judge

    out = track_sequence(
        dets,
        n_frames=len(seq.frames),
        fps=seq.fps,
        settings=settings,
        cut=True,
        frames=seq.read,
        frame_size=(seq.width, seq.height),
    )
    estimate_visibility(out)
    kept = [
        t
        for t in out
        if not (t.reasons or []) + judge(t, fps=seq.fps, width=seq.width, height=seq.height, settings=settings)
    ]
    ev, hyp, covered = PurityEvaluator(), tracklets_to_mot(kept), 0
    for f in np.unique(seq.gt.frame):
        g, h = seq.gt.at(f), hyp.at(f)
        ev.process(g.track_id, g.xyxy, h.track_id, h.xyxy)
        if len(h):
            covered += int((iou_matrix(g.xyxy, h.xyxy).max(axis=1) >= 0.5).sum())
    on = sum(max((n for k, n in c.items() if k is not None), default=0) for c in ev.counts.values())
    boxes = sum(sum(c.values()) for c in ev.counts.values())
    matched = sum(n for c in ev.counts.values() for k, n in c.items() if k is not None)
    purity = ev.evaluate()
    lengths = [len(t.frame) for t in kept]
    stage = score_mot_files(seq.gt, tracklets_to_mot(out))
    return {
        "tracklets": len(out),
        "kept": len(kept),
        "purity": on / max(boxes, 1),
        "min_purity": min(purity.values()) if purity else float("nan"),
        "identity_purity": on / max(matched, 1),
        "coverage": covered / max(len(seq.gt), 1),
        "median_seconds": float(np.median(lengths)) / seq.fps if lengths else 0.0,
        "stage_mot": {m: float(stage[m]) for m in METRICS},
    }


def tud_figures(
    data: Path, *, backend: str, strides: list[int], det_scores: str = "divide:50", settings=None
) -> tuple[list[dict], list[dict]]:
    from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence

    seq = MotSequence.open(require(data / "tud_campus", "TUD-Campus folder"), fps=TUD_CAMPUS_FPS)
    return sequence_figures(
        seq, "TUD-Campus", backend=backend, strides=strides, det_scores=det_scores, settings=settings
    )


def track_settings_from(pairs: tuple[str, ...]):
    """TrackSettings with ``KEY=VALUE`` changes (VALUE in TOML: true, 0.3, "name"); a bad one raises
    click.BadParameter naming it."""
    import tomllib

    from grewkit.track.settings import TrackSettings

    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        try:
            if not sep:
                raise ValueError("expected KEY=VALUE")
            changes[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except (ValueError, tomllib.TOMLDecodeError) as e:
            raise click.BadParameter(f"{pair!r}: {e}", param_hint="--track-setting") from None
    known = {f.name for f in dataclasses.fields(TrackSettings)}
    for key in changes:
        if key not in known:
            raise click.BadParameter(f"{key!r} is not a [track] setting", param_hint="--track-setting")
    try:
        return TrackSettings(**changes)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--track-setting") from None


#: Encoder settings of the H.264 clip: libx264's defaults (CABAC, B-frames, CRF 23) at preset ``fast``,
#: so a few hundred 1080p frames encode in seconds on a shared CPU; yuv420p, as cameras write.
H264_OPTIONS = {"preset": "fast", "crf": "23"}
#: Why OpenCV's FFmpeg cannot write H.264 here (opencv-contrib-python-headless 4.14 wheel): the only
#: H.264 encoder it lists is the V4L2 hardware one, which fails on a machine without the device.
OPENCV_H264_ERROR = (
    "OpenCV's FFmpeg has no H.264 software encoder (fourcc avc1/H264 fall to h264_v4l2m2m: "
    "'Could not find a valid device', 'Failed to initialize VideoWriter')"
)


def make_1080p_clip(source: Path, dest: Path, frames: int, size: tuple[int, int] = (1920, 1080)) -> str:
    """Write the first ``frames`` frames of ``source``, upscaled to ``size``, to ``dest`` (``.mp4``); return
    the codec written, in words. H.264 through PyAV's libx264 when PyAV is installed, else through OpenCV
    where its FFmpeg has an H.264 encoder, else MPEG-4 Part 2 (OpenCV's mp4v), the reason named."""
    import cv2

    from grewkit.core.frames import open_video, read_frames

    capture = open_video(source)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    images = (cv2.resize(image, size, interpolation=cv2.INTER_CUBIC) for _, image in read_frames(source, stop=frames))
    try:
        import av
    except ImportError:
        av = None
    if av is not None:
        from fractions import Fraction

        with av.open(str(dest), "w") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001), options=H264_OPTIONS)
            stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            for image in images:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
            container.mux(stream.encode(None))
        opts = ", ".join(f"{k} {v}" for k, v in H264_OPTIONS.items())
        return f"H.264 (libx264 {opts}, yuv420p, through PyAV {av.__version__})"
    writer = codec = None
    for fourcc, name in (
        ("avc1", "H.264 (OpenCV's FFmpeg)"),
        ("mp4v", f"MPEG-4 Part 2 (OpenCV mp4v; {OPENCV_H264_ERROR})"),
    ):
        candidate = cv2.VideoWriter(str(dest), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if candidate.isOpened():
            writer, codec = candidate, name
            break
    if writer is None:
        raise click.ClickException(f"{dest}: OpenCV cannot write a video here (tried avc1 and mp4v)")
    try:
        for image in images:
            writer.write(image)
    finally:
        writer.release()
    return codec


def pipeline_speed(
    video: Path, *, backend: str, stride: int, workers: int, max_frames: int = 0, tiles: list | None = None
) -> dict:
    """Wall (and, serially, CPU) seconds of ingest, detect and track on ``video`` against decoding it."""
    from grewkit.core.executors import make_executor
    from grewkit.core.frames import read_frames, video_size
    from grewkit.core.project import Project
    from grewkit.core.runner import run_stage
    from grewkit.ingest.cli import ingest

    width, height = video_size(video)
    with tempfile.TemporaryDirectory(prefix="grewkit-bench-track-") as tmp:
        src = Path(tmp) / "footage"
        src.mkdir()
        (src / f"cam_{video.name}").symlink_to(video.resolve())
        (src / "cameras.csv").write_text(f"camera_id,site,view,width,height\ncam,bench,any,{width},{height}\n")
        project = Project.init(Path(tmp) / "proj")
        # Only what differs from the defaults; every other key keeps its default.
        project.settings_path.write_text(
            f'[detect]\nbackend = "{backend}"\nstride = {stride}\nmax_frames = {max_frames}\n'
            + (f"tiles = {json.dumps(tiles)}\n" if tiles else "")
        )
        opened = Project.open(project.root).settings
        detect = opened.section("detect")
        assert (detect.stride, detect.backend, detect.max_frames) == (stride, backend, max_frames), detect
        assert detect.tiles == (tiles or []), detect.tiles
        started, cpu = time.perf_counter(), time.process_time()
        n_decoded = sum(1 for _ in islice(read_frames(video), max_frames or None))
        decode_s, decode_cpu = time.perf_counter() - started, time.process_time() - cpu
        wall, cpu_s = {}, {}
        with make_executor("serial" if workers == 1 else "local", workers) as executor:
            ingest(project, [src], cameras=src / "cameras.csv")
            for stage in ("ingest", "detect", "track"):
                started, cpu = time.perf_counter(), time.process_time()
                summary = run_stage(project, stage, executor=executor, show_progress=False)
                wall[stage], cpu_s[stage] = time.perf_counter() - started, time.process_time() - cpu
                if summary.failed:
                    raise click.ClickException(f"{stage} failed: {summary.failed}")
        tracklets = project.read("tracklets").to_pandas()
        kept = tracklets[tracklets.kept]
        fps = float(project.read("videos", ["fps"])["fps"][0].as_py())
        return {
            "video": video.name,
            "frames": n_decoded,
            "resolution": f"{width}x{height}",
            "backend": backend,
            "stride": stride,
            "workers": workers,
            "tiles": len(tiles or []),
            "stitch": opened.section("track").stitch,
            "decode_s": decode_s,
            "decode_cpu_s": decode_cpu,
            "wall_s": wall,
            "cpu_s": cpu_s if workers == 1 else None,
            "ratio": (wall["detect"] + wall["track"]) / decode_s,
            # CPU seconds of this process: a contended machine inflates wall times but hardly these;
            # only meaningful serially (pool workers' time is not this process's).
            "cpu_ratio": (cpu_s["detect"] + cpu_s["track"]) / decode_cpu if workers == 1 else None,
            "tracklets": len(tracklets),
            "kept": len(kept),
            "kept_boxes": int(kept.n_frames.sum()),
            "median_kept_seconds": float(kept.n_frames.median()) / fps if len(kept) else 0.0,
            "load_avg_1min": load_average(),
        }


def markdown_mot(rows: list[dict]) -> str:
    return markdown_table(
        ["run", "MOTA", "IDF1", "ID switches", "FP", "misses", "mostly tracked"],
        [
            (
                r["run"],
                f"{100 * r['mota']:.2f} %",
                f"{100 * r['idf1']:.2f} %",
                int(r["num_switches"]),
                int(r["num_false_positives"]),
                int(r["num_misses"]),
                int(r["mostly_tracked"]),
            )
            for r in rows
        ],
    )


def markdown_kept(rows: list[dict]) -> str:
    return markdown_table(
        [
            "kept tracklets (cuts, stitching, filters)",
            "kept / all",
            "box purity mean (min)",
            "identity purity",
            "true boxes covered",
            "median length s",
        ],
        [
            (
                r["run"],
                f"{r['kept']} / {r['tracklets']}",
                f"{r['purity']:.3f} ({r['min_purity']:.3f})",
                f"{r['identity_purity']:.3f}",
                f"{r['coverage']:.3f}",
                f"{r['median_seconds']:.2f}",
            )
            for r in rows
        ],
    )


def markdown_speed(runs: list[dict]) -> str:
    rows = []
    for group in runs:
        r = group[len(group) // 2]
        w = r["wall_s"]
        rows.append(
            (
                r["backend"],
                f"{r['tiles']} + frame" if r.get("tiles") else "frame only",
                r["stride"],
                r["workers"],
                f"{r['decode_s']:.2f}",
                f"{w['ingest']:.2f}",
                f"{w['detect']:.2f}",
                f"{w['track']:.2f}",
                f"{w['detect'] + w['track']:.2f}",
                f"**{r['ratio']:.2f}**",
                ", ".join(f"{g['ratio']:.2f}" for g in group),
                "" if r["cpu_ratio"] is None else format(r["cpu_ratio"], ".2f"),
                f"{r['tracklets']} / {r['kept']} ({r['median_kept_seconds']:.1f} s)",
                r["load_avg_1min"],
            )
        )
    return markdown_table(
        [
            "backend",
            "tiles",
            "stride",
            "workers",
            "decode s",
            "ingest s",
            "detect s",
            "track s",
            "detect + track s",
            "x decode",
            "runs (x decode)",
            "CPU x decode (serial)",
            "tracklets found / kept (median kept length)",
            "load",
        ],
        rows,
    )


@click.command("track")
@SHARED_DATA_OPTION
@click.option(
    "--backend",
    default=DetectSettings().backend,
    show_default=True,
    help="Detector name from the backends file (default: the detect stage's own default).",
)
@click.option(
    "--video",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Video for the speed runs (default: vtest.avi in --shared-data).",
)
@click.option("--strides", default="1,2,3", show_default=True, help="[detect] stride values, comma-separated.")
@click.option(
    "--workers",
    default="1,2",
    show_default=True,
    help="Comma-separated: 1 runs the serial executor, more the local process pool.",
)
@click.option("--repeats", default=3, show_default=True, help="Speed runs per setting; the median run is reported.")
@click.option("--max-frames", default=0, show_default=True, help="Only this many frames of the video (0: all).")
@click.option(
    "--h264",
    is_flag=True,
    help="Time the speed runs on a 1920x1080 H.264 clip made from the video (see --h264-frames, --tiles) "
    "instead of the video itself.",
)
@click.option("--h264-frames", default=200, show_default=True, help="Frames of the video that the --h264 clip holds.")
@click.option(
    "--tiles",
    default="",
    help="Also time each speed setting with [detect] tiles on a COLSxROWS grid overlapping by 20 % "
    "(e.g. 2x2; grewkit.detect.tiles).",
)
@click.option("--skip-tud", is_flag=True, help="Only the speed runs.")
@click.option("--skip-speed", is_flag=True, help="Only the TUD-Campus metrics.")
@click.option(
    "--sequence",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="A MOTChallenge-layout folder (img1/, gt/gt.txt, optional det/det.txt and seqinfo.ini) to score "
    "instead of TUD-Campus.",
)
@click.option(
    "--fps",
    type=float,
    default=None,
    help="Frame rate of --sequence (default: seqinfo.ini's frameRate; one of them is needed).",
)
@click.option(
    "--det-scores",
    default=None,
    help="How det.txt scores become [0, 1] tracker scores: as-given, max-normalised or divide:N "
    "(default: divide:50 for TUD-Campus's DPM margins, as-given for --sequence).",
)
@click.option(
    "--track-setting",
    "track_setting",
    multiple=True,
    metavar="KEY=VALUE",
    help="A [track] setting for the TUD-Campus / --sequence figures (repeatable; VALUE in TOML, e.g. "
    "trim_border_ends=true); the speed runs use the defaults.",
)
@JSON_OPTION
def bench_track_command(
    data,
    backend,
    video,
    strides,
    workers,
    repeats,
    max_frames,
    h264,
    h264_frames,
    tiles,
    skip_tud,
    skip_speed,
    sequence,
    fps,
    det_scores,
    track_setting,
    as_json,
):
    """MOTA/IDF1 on TUD-Campus (or --sequence), and detect + track wall time over pure decode on a real video.

    \b
    Examples:
      grewkit bench track --shared-data ../shared/data --strides 1,2,3,4 --workers 1,2
      grewkit bench track --sequence MOT17/train/MOT17-09-SDP --det-scores as-given --skip-speed
      grewkit bench track --skip-tud --h264 --tiles 2x2 --strides 1 --workers 2
    """
    from grewkit.bench.mot_sequence import MotSequence, scale_scores
    from grewkit.detect.tiles import grid_from_text

    try:
        layouts = [None] + ([grid_from_text(tiles)] if tiles else [])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--tiles") from None

    settings = track_settings_from(track_setting)
    stride_list = [int(s) for s in strides.split(",") if s]
    result = {"machine": machine(), "mot": [], "kept": [], "speed": []}
    if sequence is not None:
        seq = MotSequence.open(sequence, fps=fps)
        mode = det_scores or "as-given"
        scale_scores(np.zeros(1), mode)  # a bad mode stops here, before any detection runs
        result["mot"], result["kept"] = sequence_figures(
            seq, sequence.name, backend=backend, strides=stride_list, det_scores=mode, settings=settings
        )
    elif not skip_tud:
        mode = det_scores or "divide:50"
        scale_scores(np.zeros(1), mode)
        rows, result["kept"] = tud_figures(
            data, backend=backend, strides=stride_list, det_scores=mode, settings=settings
        )
        result["mot"] = check_metric_code(data) + rows
    if not skip_speed:
        video = video or require(data / "vtest.avi", "vtest.avi")
        with tempfile.TemporaryDirectory(prefix="grewkit-bench-h264-") as tmp:
            if h264:
                clip = Path(tmp) / f"{video.stem}-1080p.mp4"
                result["codec"] = make_1080p_clip(video, clip, h264_frames)
                video = clip
            for layout in layouts:
                for n_workers in (int(w) for w in workers.split(",") if w):
                    for stride in stride_list:
                        group = [
                            pipeline_speed(
                                video,
                                backend=backend,
                                stride=stride,
                                workers=n_workers,
                                max_frames=max_frames,
                                tiles=layout,
                            )
                            for _ in range(max(1, repeats))
                        ]
                        result["speed"].append(sorted(group, key=lambda r: r["ratio"]))
    emit(result, as_json, lambda result: markdown(result, repeats))


def markdown(result: dict, repeats: int) -> str:
    parts = [f"machine: {result['machine']}"]
    if result["mot"]:
        parts.append(markdown_mot(result["mot"]))
    if result.get("kept"):
        parts.append(markdown_kept(result["kept"]))
    if result["speed"]:
        first = result["speed"][0][0]
        parts.append(
            f"{first['video']}: {first['frames']} frames {first['resolution']}"
            + (f", {result['codec']}" if result.get("codec") else "")
            + f"; stitching {'on' if first['stitch'] else 'off'}; wall seconds, median of "
            f"{max(1, repeats)} runs; x decode = (detect + track) / pure decode of the same file in the same run"
        )
        parts.append(markdown_speed(result["speed"]))
    return "\n\n".join(parts)
