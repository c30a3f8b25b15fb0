"""Benchmarks of the annotation stage (figures in docs/benchmarks.md, annotate section).

  recall PROJECT        recall@K of the true cross-camera match for the candidate ranking on a
                        synthetic world (``grewkit synth PROJECT ...``), on its ground-truth
                        tracklets, against a random ranking under the same gates.
  accuracy PROJECT      identity accuracy after a real push, simulated annotators (with an error
                        rate) and pull on a synthetic world, against a naive union of "same" votes.
  server --tasks N      push (with predictions) and pull of N tasks through grewkit (the SDK
                        client) against plain HTTP import and export of the same tasks on the
                        same server, interleaved, --repeats times in one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def recall(args) -> None:
    """Recall@K on a synthetic world. PROJECT is either the synth project itself (its ground-truth
    tracklets are ranked) or a project whose tracklets/boxes/videos are copies of them and whose
    ground_truth folder links to the synth one (so renders made there can be used)."""
    from grewkit.annotate.candidates import GEIEmbedder, kept_tracklets, rank_candidates, recall_at_k
    from grewkit.annotate.settings import AnnotateSettings
    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth

    gt = ground_truth(args.project)
    project = Project.open(args.project)
    if not project.has("tracklets"):
        project = gt
    if args.matched:
        # Tracked tracklets (ingest, detect, track): true identity by box overlap with the ground truth.
        from grewkit.synth.truth import match_tracklets_to_truth

        matched = match_tracklets_to_truth(project).to_pydict()
        truth = {t: i for t, i in zip(matched["tracklet_id"], matched["identity_id"]) if i is not None}
    else:
        truth = dict(zip(*gt.read("identities", ["tracklet_id", "identity_id"]).to_pydict().values()))
    tracklets = kept_tracklets(project)
    print(f"{len(tracklets)} kept tracklets, {sum(t.tracklet_id in truth for t in tracklets)} with a true identity",
          file=sys.stderr)
    ks = tuple(int(k) for k in args.k.split(","))
    k = max(ks)
    variants = [("appearance", AnnotateSettings(k=k, embedders=["appearance"]))]
    if GEIEmbedder().available(project):
        variants += [("gei", AnnotateSettings(k=k, embedders=["gei"])),
                     ("appearance + gei (weights 1 : 0.1, the default)", AnnotateSettings(k=k, embedders=["appearance", "gei"])),
                     ("appearance + gei (weights 1 : 1)", AnnotateSettings(k=k, embedders=["appearance", "gei"],
                                                                          weights={"appearance": 1.0, "gei": 1.0}))]
    if args.max_gap_s:
        variants.append((f"appearance, time gate {args.max_gap_s:g} s",
                         AnnotateSettings(k=k, embedders=["appearance"], max_gap_s=args.max_gap_s)))
    rows = []
    for name, settings in variants:
        rows.append((name, recall_at_k(rank_candidates(project, settings), truth, tracklets, ks)))
    # Random order of the same (ungated) candidate sets: the chance level of this world.
    full = rank_candidates(project, AnnotateSettings(k=10_000, embedders=["appearance"])).to_pydict()
    by_query: dict[str, list[str]] = {}
    for q, c in zip(full["query_tracklet_id"], full["candidate_tracklet_id"]):
        by_query.setdefault(q, []).append(c)
    rng = np.random.default_rng(0)
    rand = {"query_tracklet_id": [], "candidate_tracklet_id": [], "rank": []}
    for q, cands in by_query.items():
        for r, c in enumerate(rng.permutation(cands)[:k], 1):
            rand["query_tracklet_id"].append(q)
            rand["candidate_tracklet_id"].append(str(c))
            rand["rank"].append(r)
    rows.append(("random order (chance)", recall_at_k(pa.table(rand), truth, tracklets, ks)))
    print(f"| ranking | queries | " + " | ".join(f"recall@{k}" for k in ks) + " |")
    print("|---|---|" + "---|" * len(ks))
    for name, r in rows:
        cells = " | ".join(f"{r[f'recall@{k}']:.3f}" for k in ks)
        print(f"| {name} | {r['queries']} | {cells} |")


def _task(i: int, k: int = 5):
    from grewkit.annotate.backends.base import TaskSpec

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


def _bench_project(root: Path, tasks) -> "Project":
    """A grewkit project holding the tracklets the benchmark tasks name (what `annotate pull` resolves over)."""
    from grewkit.core.project import Project
    from grewkit.core.schemas import conform, get_schema

    project = Project.init(root)
    ids = sorted({t.data["query_id"] for t in tasks} | {t.data[f"cand{j}_id"] for t in tasks for j in range(1, 6)})
    n = len(ids)
    project.write("videos", conform(pa.table({
        "video_id": ["v"], "camera_id": ["cam1"], "path": ["v.mp4"], "fps": [25.0], "frame_count": [100],
        "width": [640], "height": [480], "duration_s": [4.0], "start_time": pa.array([None], pa.timestamp("us", "UTC")),
        "size_bytes": [0], "sha256": ["0" * 64], "codec": [None]}), get_schema("videos")))
    project.write("tracklets", conform(pa.table({
        "tracklet_id": ids, "video_id": ["v"] * n, "camera_id": ["cam1" if i.startswith("q") else "cam2" for i in ids],
        "track_id": list(range(n)), "start_frame": [0] * n, "end_frame": [99] * n, "n_frames": [100] * n,
        "mean_box_height": [100.0] * n, "mean_score": [0.9] * n, "kept": [True] * n,
        "filter_reason": pa.array([None] * n, pa.string())}), get_schema("tracklets")))
    return project


def server(args) -> None:
    """grewkit's push and pull against plain HTTP calls to the same server, interleaved in one run."""
    import requests

    from grewkit.annotate import campaign
    from grewkit.annotate.backends.labelstudio import LabelStudioBackend
    from grewkit.annotate.config import render_config
    from grewkit.annotate.runs import AnnotationRun
    from grewkit.annotate.server import LabelStudioServer

    root = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="grewkit-bench-ls-"))
    srv = LabelStudioServer(root / "server", document_root=root)
    t0 = time.perf_counter()
    srv.start(timeout=600)
    print(f"server start: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    try:
        backend = LabelStudioBackend(srv.url, srv.credentials.token, document_root=root)
        batch = args.batch
        # The raw server: the same payloads posted to /import and the same export downloaded, by plain HTTP.
        raw = requests.Session()
        raw.headers["Authorization"] = f"Token {srv.credentials.token}"

        def raw_import(project_id, payloads):
            for s in range(0, len(payloads), batch):
                raw.post(f"{srv.url}/api/projects/{project_id}/import", params={"commit_to_project": "true"},
                         json=payloads[s:s + batch], timeout=600).raise_for_status()

        def raw_export(project_id):
            response = raw.get(f"{srv.url}/api/projects/{project_id}/export", timeout=600,
                               params={"exportType": "JSON", "download_all_tasks": "true"})
            response.raise_for_status()
            return response.json()

        xml = render_config(5)
        tasks = [_task(i) for i in range(args.tasks)]
        payloads = [backend._payload(t) for t in tasks]
        n = len(tasks)
        stamp = int(time.time())
        # Push: raw import and grewkit push alternate, each into a project of its own.
        push_rows = []
        for rep in range(args.repeats):
            raw_id = backend.ensure_project(title=f"bench-raw-{stamp}-{rep}", config_xml=xml)
            t0 = time.perf_counter()
            raw_import(raw_id, payloads)
            raw_s = time.perf_counter() - t0
            gk_id = backend.ensure_project(title=f"bench-grewkit-{stamp}-{rep}", config_xml=xml)
            t0 = time.perf_counter()
            result = backend.push_tasks(gk_id, tasks, batch_size=batch)
            push_s = time.perf_counter() - t0
            assert result.created == n, result
            push_rows.append((push_s, raw_s))
            print(f"push {rep + 1}: grewkit {push_s:.1f} s, raw {raw_s:.1f} s", file=sys.stderr)
        t0 = time.perf_counter()
        again = backend.push_tasks(gk_id, tasks, batch_size=batch)
        repush = time.perf_counter() - t0
        assert again.unchanged == n, again
        # Pull: one project whose tasks carry one annotation each (imported with them); raw exports
        # bracket every grewkit pull, each pull into a fresh grewkit project (the real `annotate pull`:
        # export, annotations manifest, identities and attributes).
        ann_id = backend.ensure_project(title=f"bench-annotated-{stamp}", config_xml=xml)
        raw_import(ann_id, [dict(p, annotations=[_annotation()]) for p in payloads])
        # Unmeasured: the first export right after a large import was slower than the last one in
        # each of three runs (the server's post-import work, or a cold cache), which flattered grewkit.
        raw_export(ann_id)
        exports = []
        t0 = time.perf_counter()
        assert len(raw_export(ann_id)) == n
        exports.append(time.perf_counter() - t0)
        pull_rows = []
        for rep in range(args.repeats):
            project = _bench_project(root / "projects" / f"bench-{stamp}-{rep}", tasks)
            run = AnnotationRun(key="bench", backend="labelstudio", url=srv.url, document_root=str(root),
                                project_id=ann_id)
            t0 = time.perf_counter()
            summary = campaign.pull(project, backend, run)
            pull_s = time.perf_counter() - t0
            assert summary.fetched == n, summary
            t0 = time.perf_counter()
            raw_export(ann_id)
            exports.append(time.perf_counter() - t0)
            raw_s = (exports[-2] + exports[-1]) / 2
            pull_rows.append((pull_s, raw_s))
            print(f"pull {rep + 1}: grewkit {pull_s:.1f} s, raw {raw_s:.1f} s (mean of the exports before and after)",
                  file=sys.stderr)
        t0 = time.perf_counter()
        incremental = campaign.pull(project, backend, run)
        incremental_s = time.perf_counter() - t0

        def cells(rows):
            return " | ".join(f"{g:.1f} s / {r:.1f} s = {g / r:.2f}x" for g, r in rows)

        def median_ratio(rows):
            return float(np.median([g / r for g, r in rows]))

        head = " | ".join(f"rep {i + 1}: grewkit / raw" for i in range(args.repeats))
        print(f"| step ({n:,} tasks, batches of {batch}) | {head} | median ratio |")
        print("|---|" + "---|" * (args.repeats + 1))
        print(f"| import with predictions | {cells(push_rows)} | {median_ratio(push_rows):.2f}x |")
        print(f"| pull (export + manifest + resolve) / export, {n:,} annotations | {cells(pull_rows)} | "
              f"{median_ratio(pull_rows):.2f}x |")
        print(f"| re-push, nothing changed | {repush:.1f} s | - |")
        print(f"| incremental pull, nothing changed | {incremental_s:.1f} s ({incremental.fetched} fetched) | - |")
        print(f"throughput: push {n / min(g for g, _ in push_rows):.0f} tasks/s at best; identities resolved: "
              f"{summary.report['identities']}", file=sys.stderr)
    finally:
        srv.stop()
        if not args.data_dir:
            shutil.rmtree(root, ignore_errors=True)


def accuracy(args) -> None:
    """Identity accuracy after a real push / annotate / pull on a synthetic world, with annotator errors."""
    import random

    from grewkit.annotate import campaign
    from grewkit.annotate.resolve import UnionFind, identity_accuracy, latest_answers
    from grewkit.annotate.server import LabelStudioServer
    from grewkit.synth.annotators import SimulatedAnnotator, answer_from_truth
    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth

    src = ground_truth(args.project)
    root = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="grewkit-bench-ls-"))
    stamp = int(time.time())
    project = Project.init(root / "projects" / f"accuracy-{stamp}")
    (project.root / "media" / "synth").symlink_to(Path(args.project).resolve() / "media" / "synth")
    for name in ("videos", "tracklets", "boxes"):
        project.write(name, src.read(name))
    ids = src.read("identities", ["tracklet_id", "identity_id"]).to_pydict()
    truth = dict(zip(ids["tracklet_id"], ids["identity_id"]))
    attributes: dict[str, dict[str, list[str]]] = {}
    for r in src.read("attributes").to_pylist():
        if r["level"] == "identity":
            attributes.setdefault(r["subject_id"], {}).setdefault(r["attribute"], []).append(r["value"])
    text = project.settings_path.read_text()
    head, _, tail = text.partition("[annotate]\n")
    tail = tail.replace("k = 5", f"k = {args.k}", 1).replace("annotators_per_task = 1", f"annotators_per_task = {args.annotators}", 1)
    project.settings_path.write_text(head + "[annotate]\n" + tail)
    srv = LabelStudioServer(root / "server", document_root=root)
    srv.start(timeout=600)
    try:
        campaign.compute_candidates(project, show_progress=False)
        backend, run = campaign.open_backend(project, url=srv.url, api_key=srv.credentials.token,
                                             document_root=str(root))
        campaign.push(project, backend, run, show_progress=False)
        tasks = backend.export(run.project_id)
        invite = backend.sdk.organizations.invites.get_invite_link().invite_url
        for a in range(args.annotators):
            person = SimulatedAnnotator(srv.url, invite, f"sim{a}-{stamp}@lab.org")
            rng = random.Random(a)
            for task in tasks:
                person.answer(task["id"], answer_from_truth(task["data"], truth, attributes=attributes,
                                                             error_rate=args.error_rate, rng=rng))
        summary = campaign.pull(project, backend, run)
        identities = project.read("identities")
        ours = identity_accuracy(identities, truth)
        # Baseline: union every "same" vote, no majority, nothing held out.
        answers, _ = latest_answers(project.read("annotations"))
        uf = UnionFind()
        for answer in answers:
            uf.find(answer.query)
            for cand, label in answer.links.items():
                uf.find(cand)
                if label == "same":
                    uf.union(answer.query, cand)
        naive_rows = [{"tracklet_id": t, "identity_id": root_id, "source": "annotation", "status": "resolved", "reason": None}
                      for root_id, members in uf.groups().items() for t in members]
        naive = identity_accuracy(pa.Table.from_pylist(naive_rows), truth)
        report = summary.report
        single = ("gender", "age_group", "upper", "lower")
        right = total = 0
        by_subject: dict[tuple[str, str], dict[str, int]] = {}
        for r in project.read("attributes").to_pylist():
            if r["level"] == "identity" and r["attribute"] in single:
                by_subject.setdefault((r["subject_id"], r["attribute"]), {})[r["value"]] = r["votes"]
        members: dict[str, list[str]] = {}
        for r in identities.to_pylist():
            if r["status"] == "resolved":
                members.setdefault(r["identity_id"], []).append(r["tracklet_id"])
        for (identity, attribute), votes in by_subject.items():
            true_ids = {truth[t] for t in members.get(identity, []) if t in truth}
            if len(true_ids) != 1:
                continue
            true_value = attributes.get(true_ids.pop(), {}).get(attribute)
            if not true_value:
                continue
            total += 1
            right += max(votes, key=votes.get) == true_value[0]
        print(f"| error rate | annotators | tasks | pair precision | pair recall | naive precision | naive recall | "
              f"conflicts caught | held-out tracklets | attribute accuracy |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {args.error_rate:.2f} | {args.annotators} | {len(tasks)} | {ours['pair_precision']:.3f} | {ours['pair_recall']:.3f} | "
              f"{naive['pair_precision']:.3f} | {naive['pair_recall']:.3f} | {len(report['conflicts'])} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(report['conflict_counts'].items()))}) | "
              f"{report['held_out_tracklets']} of {len(truth)} | {right}/{total} |")
    finally:
        srv.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("recall")
    p.add_argument("project")
    p.add_argument("--k", default="1,5,10")
    p.add_argument("--max-gap-s", type=float, default=0.0, help="Also rank with this time gate.")
    p.add_argument("--matched", action="store_true",
                   help="PROJECT's tracklets come from the pipeline: match them to the ground truth by box overlap.")
    p = sub.add_parser("accuracy")
    p.add_argument("project")
    p.add_argument("--error-rate", type=float, default=0.1)
    p.add_argument("--annotators", type=int, default=2)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--data-dir", default=None, help="Reuse this server folder (skips the first-start migrations).")
    p = sub.add_parser("server")
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=2, help="Interleaved repetitions of each measurement.")
    p.add_argument("--data-dir", default=None, help="Reuse this server folder (skips the first-start migrations).")
    args = parser.parse_args()
    {"recall": recall, "server": server, "accuracy": accuracy}[args.cmd](args)


if __name__ == "__main__":
    main()
