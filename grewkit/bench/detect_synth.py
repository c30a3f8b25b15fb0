"""``grewkit bench detect-synth``: detect + track on the synthetic world, scored against its exact ground truth.

Generates a world as ``grewkit synth`` does into a temporary folder (or uses ``--project``), then
for each detector backend runs ingest, detect and track (serial executor) and reports detector
precision/recall (IoU 0.5; all people, and people at least half visible), MOTA / IDF1 / ID
switches, and the purity of kept tracklets (goal: >= 0.98), also counting identity errors alone
(identity purity).

The backend ``hog-recall`` asks a different question: would a pedestrian detector trained on real
people find the synthetic walkers? OpenCV's default HOG people detector stands in for one (frames
upscaled 1.5x, SVM margin > 0.3); on every ``--every``-th frame it reports the recall of true
people (visibility > 0.8 for synth, inside the frame for a MOT folder, taller than 80 px) at
IoU 0.4 and the detections that match nobody. With ``--mot`` it runs on a real MOT-format folder
(img1/, gt/gt.txt) instead, so the two figures can be compared.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from grewkit.bench.data import SHARED_DATA_OPTION, require
from grewkit.bench.report import (
    JSON_OPTION,
    emit,
    ingest_synth,
    machine,
    markdown_table,
    run_stages,
    synth_world,
    world_options,
)

HOG_RECALL = "hog-recall"


def retrack_row(world: Path, work: Path, *, cuts: bool) -> dict:
    """Track the detections of ``world`` (a project whose detections manifest is complete) again, with the
    current code and settings, into a copy: the synthetic scores of the result. Rendering and detecting a
    world takes many minutes; tracking it again, seconds. Each video goes through the track stage's own
    ``process`` (not the runner: a checkout whose model file differs would call the detections stale)."""
    import dataclasses

    import pyarrow as pa

    from grewkit.bench.synth_tracking import evaluate_synth
    from grewkit.core import manifests
    from grewkit.core.project import Project
    from grewkit.core.stage import Unit
    from grewkit.track.settings import project_track_settings
    from grewkit.track.stage import TrackStage

    root = work / "retrack"
    keep = {"grewkit.toml", "ground_truth", "media", "manifests"}
    shutil.copytree(world, root, ignore=lambda d, names: [n for n in names if Path(d) == world and n not in keep])
    project = Project(root)
    if not project.has("detections"):
        raise click.ClickException(f"{world}: no detections manifest; run `grewkit detect` there first")
    if not cuts:
        from grewkit.core.settings import update_settings

        update_settings(project.settings_path, "track", {"cut_switches": False})
        project = Project(root)
    detect = project.settings.section("detect")
    stage = TrackStage(project)
    counts = dict(
        zip(*np.unique(project.read("detections", ["video_id"]).column("video_id").to_numpy(), return_counts=True))
    )
    started = time.perf_counter()
    parts: dict[str, list] = {"tracklets": [], "boxes": []}
    for v in sorted(project.read("videos").to_pylist(), key=lambda v: v["video_id"]):
        payload = {
            **{k: v[k] for k in ("video_id", "camera_id", "fps", "frame_count", "width", "height")},
            "stride": detect.stride,
            "max_frames": detect.max_frames,
            "detections": int(counts.get(v["video_id"], 0)),
        }
        for name, table in stage.process(Unit(v["video_id"], payload)).items():
            parts[name].append(table)
    seconds = time.perf_counter() - started
    for name, tables in parts.items():
        manifests.write_manifest(project.manifests_dir, name, pa.concat_tables(tables))
    row = {"backend": f"{detect.backend} (its detections, tracked again)", **evaluate_synth(project)}
    return {**row, "detect_track_s": seconds, "settings": dataclasses.asdict(project_track_settings(project))}


def pipeline_row(world: Path, work: Path, backend: str, *, cuts: bool) -> dict:
    """Ingest, detect and track a copy of ``world`` with ``backend``; the synthetic scores of the result."""
    from grewkit.bench.synth_tracking import evaluate_synth
    from grewkit.core.executors import make_executor
    from grewkit.core.project import Project

    root = work / backend
    shutil.copytree(world, root, ignore=shutil.ignore_patterns("state"))
    (root / "manifests" / "videos.parquet").unlink(missing_ok=True)
    project = Project(root)
    from grewkit.core.settings import update_settings

    update_settings(project.settings_path, "detect", {"backend": backend})
    text = project.settings_path.read_text()
    if not cuts:
        if "\ncut_switches = true\n" not in text:
            raise click.ClickException("no 'cut_switches = true' in the world's grewkit.toml")
        text = text.replace("\ncut_switches = true\n", "\ncut_switches = false\n")
    project.settings_path.write_text(text)
    with make_executor("serial", 1) as executor:
        ingest_synth(project, executor=executor)
        started = time.perf_counter()
        run_stages(project, ["detect", "track"], executor=executor)
        seconds = time.perf_counter() - started
    return {"backend": backend, **evaluate_synth(project), "detect_track_s": seconds}


def hog_people(image: np.ndarray, hog) -> np.ndarray:
    """OpenCV's default HOG people detector on the frame upscaled 1.5x; xyxy of detections with margin > 0.3."""
    import cv2

    up = cv2.resize(image, None, fx=1.5, fy=1.5)
    rects, weights = hog.detectMultiScale(up, winStride=(8, 8), padding=(8, 8), scale=1.05)
    found = [
        (x / 1.5, y / 1.5, (x + w) / 1.5, (y + h) / 1.5) for (x, y, w, h), s in zip(rects, np.ravel(weights)) if s > 0.3
    ]
    return np.asarray(found, np.float64).reshape(-1, 4)


def synth_frames(project_dir: Path, every: int):
    """(image, wanted xyxy, everyone xyxy) on every ``every``-th frame of a synthetic world."""
    import cv2
    import pyarrow.compute as pc

    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth

    project = Project.open(project_dir)
    gt = ground_truth(project)
    boxes = gt.read("boxes")
    for v in gt.read("videos").to_pylist():
        capture = cv2.VideoCapture(str(project.resolve(v["path"])))
        rows = boxes.filter(pc.equal(boxes["video_id"], v["video_id"])).to_pylist()
        for f in range(0, v["frame_count"], every):
            capture.set(cv2.CAP_PROP_POS_FRAMES, f)
            ok, img = capture.read()
            if not ok:
                break
            here = [r for r in rows if r["frame"] == f]
            everyone = [(r["x1"], r["y1"], r["x2"], r["y2"]) for r in here]
            wanted = [
                (r["x1"], r["y1"], r["x2"], r["y2"]) for r in here if r["visibility"] > 0.8 and r["y2"] - r["y1"] > 80
            ]
            yield img, wanted, everyone
        capture.release()


def mot_frames(folder: Path, every: int):
    """(image, wanted xyxy, everyone xyxy) on every ``every``-th frame of a MOT-format folder."""
    import cv2

    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",")
    for f in range(1, int(gt[:, 0].max()) + 1, every):
        img = cv2.imread(str(folder / "img1" / f"{f:06d}.jpg"))
        everyone = [(r[2], r[3], r[2] + r[4], r[3] + r[5]) for r in gt[gt[:, 0] == f]]
        wanted = [b for b in everyone if b[3] - b[1] > 80 and b[0] >= 0 and b[2] <= img.shape[1]]
        yield img, wanted, everyone


def hog_recall(frames) -> dict:
    import cv2

    from grewkit.core.boxes import iou_matrix

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    total = hits = unmatched = 0
    for img, wanted, everyone in frames:
        dets = hog_people(img, hog)
        total += len(wanted)
        if len(dets) == 0:
            continue
        if wanted:
            hits += int((iou_matrix(np.asarray(wanted), dets) > 0.4).any(axis=1).sum())
        everyone_iou = iou_matrix(np.asarray(everyone), dets) if everyone else np.zeros((0, len(dets)))
        unmatched += int((~(everyone_iou > 0.4).any(axis=0)).sum())
    return {"found": hits, "wanted": total, "recall": hits / max(total, 1), "matching_nobody": unmatched}


def markdown(result: dict) -> str:
    parts = [f"machine: {result['machine']}; {result['on']}"]
    if result["rows"]:
        parts.append(
            markdown_table(
                [
                    "backend",
                    "det precision",
                    "det recall",
                    "recall (>= 50 % visible)",
                    "MOTA",
                    "IDF1",
                    "ID sw",
                    "tracklets kept/all",
                    "kept boxes",
                    "kept purity mean / min",
                    "kept >= 0.98 pure",
                    "kept identity purity mean / min",
                    "identities covered",
                    "true boxes covered (>= 50 % visible)",
                    "median kept s",
                    "multi-camera people kept in >= 2 cameras",
                    "detect+track s",
                ],
                [
                    (
                        r["backend"],
                        f"{r['det_all']['precision']:.3f}",
                        f"{r['det_all']['recall']:.3f}",
                        f"{r['det_visible']['recall']:.3f}",
                        f"{100 * r['mot']['mota']:.1f} %",
                        f"{100 * r['mot']['idf1']:.1f} %",
                        int(r["mot"]["num_switches"]),
                        f"{r['kept']}/{r['tracklets']}",
                        r["kept_boxes"],
                        f"{r['kept_purity_mean']:.3f} / {r['kept_purity_min']:.3f}",
                        f"{r['kept_share_pure_98']:.2f}",
                        f"{r['kept_identity_purity_mean']:.3f} / {r['kept_identity_purity_min']:.3f}",
                        f"{r['gt_identities_covered']} of {r['gt_identities']}",
                        f"{r['coverage']:.3f} ({r['coverage_visible']:.3f})",
                        f"{r['kept_median_seconds']:.2f}",
                        f"{r['kept_multi_camera_people']} of {r['multi_camera_people']}",
                        f"{r['detect_track_s']:.1f}",
                    )
                    for r in result["rows"]
                ],
            )
        )
    if result["hog_recall"]:
        h = result["hog_recall"]
        parts.append(
            markdown_table(
                ["detector", "frames", "recall @IoU0.4", "detections matching nobody"],
                [
                    (
                        "OpenCV HOG people (1.5x, margin > 0.3)",
                        f"every {h['every']}",
                        f"{h['found']}/{h['wanted']} = {h['recall']:.2f}",
                        h["matching_nobody"],
                    )
                ],
            )
        )
    return "\n\n".join(parts)


@click.command("detect-synth")
@world_options(cameras=2, identities=6, seconds=10.0)
@click.option(
    "--backends",
    default="ssdlite,mog2",
    show_default=True,
    help=f"Comma-separated detector names, each run through ingest, detect and track; "
    f"'{HOG_RECALL}': OpenCV's HOG people recall on sampled frames instead.",
)
@click.option(
    "--retrack",
    is_flag=True,
    help="With --project: no detection; its detections are tracked again on a copy (row 'tracked again').",
)
@click.option("--no-cuts", is_flag=True, help="Track without the identity-switch cuts ([track] cut_switches = false).")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="An existing `grewkit synth` project instead of generating a world (it is copied, not changed).",
)
@click.option(
    "--mot",
    type=click.Path(path_type=Path),
    default=None,
    help=f"'{HOG_RECALL}' on a MOT-format folder (img1/, gt/gt.txt) instead of a synthetic world; "
    "a relative name is looked up in --shared-data.",
)
@click.option("--every", default=25, show_default=True, help=f"'{HOG_RECALL}' looks at every N-th frame.")
@SHARED_DATA_OPTION
@JSON_OPTION
def bench_detect_synth_command(
    cameras, identities, seconds, seed, backends, retrack, no_cuts, project_dir, mot, every, data, as_json
):
    """Detector and tracker scores against a synthetic world's exact ground truth, per backend.

    \b
    Examples:
      grewkit bench detect-synth --cameras 2 --identities 6 --seconds 10 --seed 0 --backends ssdlite,mog2
      grewkit bench detect-synth --project demo --backends hog-recall --every 50
      grewkit bench detect-synth --project demo --retrack --backends ""
      grewkit bench detect-synth --shared-data ../shared/data --mot tud_campus --backends hog-recall --every 5
    """
    names = [b for b in backends.split(",") if b]
    if retrack and project_dir is None:
        raise click.UsageError("--retrack needs --project (a world detect has finished)")
    pipeline = [b for b in names if b != HOG_RECALL]
    result = {"machine": machine(), "on": "", "rows": [], "hog_recall": None}
    if mot is not None:
        if pipeline:
            raise click.UsageError(f"--mot runs '{HOG_RECALL}' only, not {', '.join(pipeline)}")
        folder = mot if mot.is_absolute() or mot.exists() else data / mot
        require(folder / "gt" / "gt.txt", f"MOT folder {mot}")
        result["on"] = f"MOT folder {folder}"
        if HOG_RECALL in names:
            result["hog_recall"] = {**hog_recall(mot_frames(folder, every)), "every": every}
        emit(result, as_json, markdown)
        return
    with tempfile.TemporaryDirectory(prefix="grewkit-bench-detect-synth-") as tmp:
        if project_dir is None:
            project_dir = synth_world(
                Path(tmp) / "world", cameras=cameras, identities=identities, seconds=seconds, seed=seed
            ).root
            result["on"] = f"world: {cameras} cameras, {identities} identities, {seconds:g} s, seed {seed}"
        else:
            result["on"] = f"world: {project_dir}"
        if retrack:
            result["rows"].append(retrack_row(project_dir, Path(tmp), cuts=not no_cuts))
        for backend in pipeline:
            result["rows"].append(pipeline_row(project_dir, Path(tmp), backend, cuts=not no_cuts))
        if HOG_RECALL in names:
            result["hog_recall"] = {**hog_recall(synth_frames(project_dir, every)), "every": every}
    emit(result, as_json, markdown)
