"""Benchmarks of the annotation stage (figures in docs/benchmarks.md, annotate section).

  recall PROJECT        recall@K of the true cross-camera match for the candidate ranking on a
                        synthetic world (``grewkit synth PROJECT ...``), on its ground-truth
                        tracklets, against a random ranking under the same gates.
  server --tasks N      push (with predictions) and pull of N tasks through grewkit against the
                        raw server's import and export of the same tasks, in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def recall(args) -> None:
    from grewkit.annotate.candidates import kept_tracklets, rank_candidates, recall_at_k
    from grewkit.annotate.settings import AnnotateSettings
    from grewkit.synth.truth import ground_truth

    gt = ground_truth(args.project)
    truth = dict(zip(*gt.read("identities", ["tracklet_id", "identity_id"]).to_pydict().values()))
    tracklets = kept_tracklets(gt)
    ks = tuple(int(k) for k in args.k.split(","))
    rows = []
    variants = [("appearance", AnnotateSettings(k=max(ks), embedders=["appearance"])),
                ("appearance, time gate 5 s", AnnotateSettings(k=max(ks), embedders=["appearance"], max_gap_s=5.0))]
    for name, settings in variants:
        start = time.perf_counter()
        table = rank_candidates(gt, settings)
        seconds = time.perf_counter() - start
        rows.append((name, recall_at_k(table, truth, tracklets, ks), seconds))
        # Random ranking of the same gated candidate sets: the chance level of this world.
        rng = np.random.default_rng(0)
        full = rank_candidates(gt, dataclasses.replace(settings, k=10_000))
        cols = full.to_pydict()
        by_query: dict[str, list[str]] = {}
        for q, c in zip(cols["query_tracklet_id"], cols["candidate_tracklet_id"]):
            by_query.setdefault(q, []).append(c)
        rand = {"query_tracklet_id": [], "candidate_tracklet_id": [], "rank": []}
        for q, cands in by_query.items():
            for r, c in enumerate(rng.permutation(cands)[: max(ks)], 1):
                rand["query_tracklet_id"].append(q)
                rand["candidate_tracklet_id"].append(str(c))
                rand["rank"].append(r)
        rows.append((f"random order ({name.split(',')[1].strip() if ',' in name else 'no gate'})",
                     recall_at_k(pa.table(rand), truth, tracklets, ks), None))
    print(f"| ranking | queries | " + " | ".join(f"recall@{k}" for k in ks) + " | seconds |")
    print("|---|---|" + "---|" * len(ks) + "---|")
    for name, r, seconds in rows:
        cells = " | ".join(f"{r[f'recall@{k}']:.3f}" for k in ks)
        print(f"| {name} | {r['queries']} | {cells} | {f'{seconds:.2f}' if seconds is not None else '-'} |")


def _task(i: int, k: int = 5):
    from grewkit.annotate.backend import TaskSpec

    data = {"query_id": f"q{i:06d}", "query_camera": "cam1", "query_frames": "0-99",
            "query_image": f"/data/local-files/?d=media/annotation/strips/q{i:06d}.jpg"}
    for j in range(1, k + 1):
        data[f"cand{j}_id"] = f"c{i:06d}-{j}"
        data[f"cand{j}_label"] = f"Candidate {j}: c{i:06d}-{j} (camera cam2, similarity 0.9)"
        data[f"cand{j}_image"] = f"/data/local-files/?d=media/annotation/strips/c{i:06d}-{j}.jpg"
        data[f"cand{j}_score"] = 0.9 - j / 100
    prediction = {"model_version": "appearance@bench", "score": 0.89,
                  "result": [{"from_name": "cand1", "to_name": "cand1_image", "type": "choices",
                              "value": {"choices": ["same"]}}]}
    return TaskSpec(key=data["query_id"], data=data, predictions=[prediction])


def _annotation():
    return {"result": [{"from_name": "cand1", "to_name": "cand1_image", "type": "choices", "value": {"choices": ["same"]}},
                       {"from_name": "gender", "to_name": "query", "type": "choices", "value": {"choices": ["male"]}}],
            "was_cancelled": False}


def server(args) -> None:
    from grewkit.annotate.backend import LabelStudioBackend
    from grewkit.annotate.config import render_config
    from grewkit.annotate.resolve import resolve
    from grewkit.annotate.server import LabelStudioServer
    from grewkit.core.schemas import get_schema

    root = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="grewkit-bench-ls-"))
    srv = LabelStudioServer(root / "server", document_root=root)
    t0 = time.perf_counter()
    srv.start(timeout=600)
    print(f"server start: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    try:
        backend = LabelStudioBackend(srv.url, srv.credentials.token, document_root=root)
        xml = render_config(5)
        tasks = [_task(i) for i in range(args.tasks)]
        stamp = int(time.time())
        batch = args.batch
        # Raw server: the same payloads (data with the same fields, one prediction each) posted to /import.
        raw_id = backend.ensure_project(title=f"bench-raw-{stamp}", config_xml=xml, media_dir=None)
        payloads = [backend._payload(t) for t in tasks]
        t0 = time.perf_counter()
        for s in range(0, len(payloads), batch):
            backend.client.request("POST", f"/api/projects/{raw_id}/import", params={"commit_to_project": "true"},
                                   json=payloads[s:s + batch])
        raw_import = time.perf_counter() - t0
        # grewkit push: lists what exists, then imports the new tasks in batches.
        gk_id = backend.ensure_project(title=f"bench-grewkit-{stamp}", config_xml=xml, media_dir=None)
        t0 = time.perf_counter()
        result = backend.push_tasks(gk_id, tasks, batch_size=batch)
        push = time.perf_counter() - t0
        assert result.created == len(tasks), result
        t0 = time.perf_counter()
        again = backend.push_tasks(gk_id, tasks, batch_size=batch)
        repush = time.perf_counter() - t0
        assert again.unchanged == len(tasks), again
        # Annotations for the pull: imported with the tasks of a third project (one per task).
        ann_id = backend.ensure_project(title=f"bench-annotated-{stamp}", config_xml=xml, media_dir=None)
        annotated = [dict(p, annotations=[_annotation()]) for p in payloads]
        for s in range(0, len(annotated), batch):
            backend.client.request("POST", f"/api/projects/{ann_id}/import", params={"commit_to_project": "true"},
                                   json=annotated[s:s + batch])
        t0 = time.perf_counter()
        raw = backend.export(ann_id)
        raw_export = time.perf_counter() - t0
        assert len(raw) == len(tasks)
        t0 = time.perf_counter()
        pulled = backend.pull(ann_id).annotations
        schema = get_schema("annotations")
        table = pa.Table.from_pylist([{
            "annotation_id": a.annotation_id, "task_key": a.task_key, "task_id": a.task_id,
            "query_tracklet_id": a.task_data["query_id"], "annotator": a.annotator, "created_at": a.created_at,
            "updated_at": a.updated_at, "was_cancelled": a.was_cancelled, "result_json": json.dumps(a.result),
            "task_data_json": json.dumps(a.task_data)} for a in pulled], schema=schema.arrow)
        fetched = time.perf_counter() - t0
        ids = sorted({t.data["query_id"] for t in tasks} | {t.data[f"cand{j}_id"] for t in tasks for j in range(1, 6)})
        tracklets = pa.table({"tracklet_id": ids, "video_id": ["v"] * len(ids), "camera_id": [("cam1" if i.startswith("q") else "cam2") for i in ids],
                              "start_frame": [0] * len(ids), "end_frame": [99] * len(ids)})
        t1 = time.perf_counter()
        resolution = resolve(table, tracklets)
        resolved = time.perf_counter() - t1
        pull = fetched + resolved
        n = len(tasks)
        print(f"| step ({n:,} tasks, batches of {batch}) | grewkit | raw server | ratio |")
        print("|---|---|---|---|")
        print(f"| import with predictions | {push:.1f} s ({n / push:.0f} tasks/s) | {raw_import:.1f} s ({n / raw_import:.0f} tasks/s) | {push / raw_import:.2f}x |")
        print(f"| re-push, nothing changed | {repush:.1f} s | - | - |")
        print(f"| pull / export with {len(pulled):,} annotations | {pull:.1f} s (fetch {fetched:.1f} s + resolve {resolved:.1f} s) | {raw_export:.1f} s | {pull / raw_export:.2f}x |")
        print(f"identities resolved: {resolution.report['identities']}", file=sys.stderr)
    finally:
        srv.stop()
        if not args.data_dir:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("recall")
    p.add_argument("project")
    p.add_argument("--k", default="1,5,10")
    p = sub.add_parser("server")
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--data-dir", default=None, help="Reuse this server folder (skips the first-start migrations).")
    args = parser.parse_args()
    {"recall": recall, "server": server}[args.cmd](args)


if __name__ == "__main__":
    main()
