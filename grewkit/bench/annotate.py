"""``grewkit bench annotate``: benchmarks of the annotation stage.

- ``recall PROJECT``: recall@K of the true cross-camera match for the candidate ranking on a
  synthetic world (``grewkit synth PROJECT ...``), on its ground-truth tracklets, against a random
  ranking under the same gates.
- ``accuracy PROJECT``: identity accuracy after a real push, simulated annotators (with an error
  rate) and pull on a synthetic world, against a naive union of "same" votes.
- ``server``: push (with predictions) and pull of N tasks through grewkit (the SDK client) against
  plain HTTP import and export of the same tasks on the same server, interleaved, ``--repeats`` times.

``accuracy`` and ``server`` start a real Label Studio server (``make label-studio``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import pyarrow as pa

from grewkit.bench.report import JSON_OPTION, emit, machine, markdown_table

SERVER_DIR_OPTION = click.option(
    "--server-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep the Label Studio server (and projects) in this folder and reuse it: skips the first start's migrations.",
)


def progress(line: str) -> None:
    click.echo(line, err=True)


@click.group("annotate")
def bench_annotate_group():
    """Annotation benchmarks: candidate recall, identity accuracy after annotators, server push/pull speed."""


# -- recall ------------------------------------------------------------------------------------


def candidate_recall(project_dir: Path, *, ks: tuple[int, ...], max_gap_s: float, matched: bool) -> dict:
    """Recall@K on a synthetic world. ``project_dir`` is either the synth project itself (its
    ground-truth tracklets are ranked) or a project whose tracklets/boxes/videos are copies of them
    and whose ground_truth folder links to the synth one (so renders made there can be used)."""
    from grewkit.annotate.candidates import GEIEmbedder, kept_tracklets, rank_candidates, recall_at_k
    from grewkit.annotate.settings import AnnotateSettings
    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth

    gt = ground_truth(project_dir)
    project = Project.open(project_dir)
    if not project.has("tracklets"):
        project = gt
    if matched:
        # Tracked tracklets (ingest, detect, track): true identity by box overlap with the ground truth.
        from grewkit.synth.truth import match_tracklets_to_truth

        pairs = match_tracklets_to_truth(project).to_pydict()
        truth = {t: i for t, i in zip(pairs["tracklet_id"], pairs["identity_id"]) if i is not None}
    else:
        truth = dict(zip(*gt.read("identities", ["tracklet_id", "identity_id"]).to_pydict().values()))
    tracklets = kept_tracklets(project)
    progress(f"{len(tracklets)} kept tracklets, {sum(t.tracklet_id in truth for t in tracklets)} with a true identity")
    k = max(ks)
    variants = [("appearance", AnnotateSettings(k=k, embedders=["appearance"]))]
    if GEIEmbedder().available(project):
        variants += [
            ("gei", AnnotateSettings(k=k, embedders=["gei"])),
            ("appearance + gei (weights 1 : 0.1, the default)", AnnotateSettings(k=k, embedders=["appearance", "gei"])),
            (
                "appearance + gei (weights 1 : 1)",
                AnnotateSettings(k=k, embedders=["appearance", "gei"], weights={"appearance": 1.0, "gei": 1.0}),
            ),
        ]
    if max_gap_s:
        variants.append(
            (
                f"appearance, time gate {max_gap_s:g} s",
                AnnotateSettings(k=k, embedders=["appearance"], max_gap_s=max_gap_s),
            )
        )
    rows = [
        {"ranking": name, **recall_at_k(rank_candidates(project, settings), truth, tracklets, ks)}
        for name, settings in variants
    ]
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
    rows.append({"ranking": "random order (chance)", **recall_at_k(pa.table(rand), truth, tracklets, ks)})
    return {"machine": machine(), "ks": list(ks), "rows": rows}


def markdown_recall(result: dict) -> str:
    ks = result["ks"]
    return markdown_table(
        ["ranking", "queries", *(f"recall@{k}" for k in ks)],
        [(r["ranking"], r["queries"], *(f"{r[f'recall@{k}']:.3f}" for k in ks)) for r in result["rows"]],
    )


@bench_annotate_group.command("recall")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--k", "ks", default="1,5,10", show_default=True, help="Comma-separated K of recall@K.")
@click.option("--max-gap-s", default=0.0, show_default=True, help="Also rank with this time gate (seconds; 0: not).")
@click.option(
    "--matched",
    is_flag=True,
    help="PROJECT's tracklets come from the pipeline: match them to the ground truth by box overlap.",
)
@JSON_OPTION
def recall_command(project_dir, ks, max_gap_s, matched, as_json):
    """Recall@K of the true cross-camera match for each candidate ranking, against a random ranking.

    \b
    Examples:
      grewkit synth /tmp/synth --cameras 4 --identities 40 --seconds 60 --seed 0
      grewkit bench annotate recall /tmp/synth
      grewkit bench annotate recall /tmp/synth --matched     # after ingest, detect and track there
    """
    emit(
        candidate_recall(project_dir, ks=tuple(int(k) for k in ks.split(",")), max_gap_s=max_gap_s, matched=matched),
        as_json,
        markdown_recall,
    )


# -- server ------------------------------------------------------------------------------------


def _task(i: int, k: int = 5):
    from grewkit.annotate.backends.base import TaskSpec

    data = {
        "query_id": f"q{i:06d}",
        "query_camera": "cam1",
        "query_frames": "0-99",
        "query_image": f"/data/local-files/?d=media/annotation/strips/q{i:06d}.jpg",
    }
    for j in range(1, k + 1):
        data[f"cand{j}_id"] = f"c{i:06d}-{j}"
        data[f"cand{j}_label"] = f"Candidate {j}: c{i:06d}-{j} (camera cam2, similarity 0.9)"
        data[f"cand{j}_image"] = f"/data/local-files/?d=media/annotation/strips/c{i:06d}-{j}.jpg"
        data[f"cand{j}_score"] = 0.9 - j / 100
    prediction = {
        "model_version": "appearance@bench",
        "score": 0.89,
        "result": [{"from_name": "cand1", "to_name": "cand1_image", "type": "choices", "value": {"choices": ["same"]}}],
    }
    return TaskSpec(key=data["query_id"], data=data, predictions=[prediction])


def _annotation():
    return {
        "result": [
            {"from_name": "cand1", "to_name": "cand1_image", "type": "choices", "value": {"choices": ["same"]}},
            {"from_name": "gender", "to_name": "query", "type": "choices", "value": {"choices": ["male"]}},
        ],
        "was_cancelled": False,
    }


def _bench_project(root: Path, tasks):
    """A grewkit project holding the tracklets the benchmark tasks name (what `annotate pull` resolves over)."""
    from grewkit.core.project import Project
    from grewkit.core.schemas import conform, get_schema

    project = Project.init(root)
    ids = sorted({t.data["query_id"] for t in tasks} | {t.data[f"cand{j}_id"] for t in tasks for j in range(1, 6)})
    n = len(ids)
    project.write(
        "videos",
        conform(
            pa.table(
                {
                    "video_id": ["v"],
                    "camera_id": ["cam1"],
                    "path": ["v.mp4"],
                    "fps": [25.0],
                    "frame_count": [100],
                    "width": [640],
                    "height": [480],
                    "duration_s": [4.0],
                    "start_time": pa.array([None], pa.timestamp("us", "UTC")),
                    "size_bytes": [0],
                    "sha256": ["0" * 64],
                    "codec": [None],
                }
            ),
            get_schema("videos"),
        ),
    )
    project.write(
        "tracklets",
        conform(
            pa.table(
                {
                    "tracklet_id": ids,
                    "video_id": ["v"] * n,
                    "camera_id": ["cam1" if i.startswith("q") else "cam2" for i in ids],
                    "track_id": list(range(n)),
                    "start_frame": [0] * n,
                    "end_frame": [99] * n,
                    "n_frames": [100] * n,
                    "mean_box_height": [100.0] * n,
                    "mean_score": [0.9] * n,
                    "kept": [True] * n,
                    "filter_reason": pa.array([None] * n, pa.string()),
                }
            ),
            get_schema("tracklets"),
        ),
    )
    return project


def server_speed(*, tasks: int, batch: int, repeats: int, server_dir: Path | None) -> dict:
    """grewkit's push and pull against plain HTTP calls to the same server, interleaved in one run."""
    import requests

    from grewkit.annotate import campaign
    from grewkit.annotate.backends.labelstudio import LabelStudioBackend
    from grewkit.annotate.config import render_config
    from grewkit.annotate.runs import AnnotationRun
    from grewkit.annotate.server import LabelStudioServer

    root = server_dir or Path(tempfile.mkdtemp(prefix="grewkit-bench-ls-"))
    srv = LabelStudioServer(root / "server", document_root=root)
    t0 = time.perf_counter()
    srv.start(timeout=600)
    progress(f"server start: {time.perf_counter() - t0:.1f} s")
    try:
        backend = LabelStudioBackend(srv.url, srv.credentials.token, document_root=root)
        # The raw server: the same payloads posted to /import and the same export downloaded, by plain HTTP.
        raw = requests.Session()
        raw.headers["Authorization"] = f"Token {srv.credentials.token}"

        def raw_import(project_id, payloads):
            for s in range(0, len(payloads), batch):
                raw.post(
                    f"{srv.url}/api/projects/{project_id}/import",
                    params={"commit_to_project": "true"},
                    json=payloads[s : s + batch],
                    timeout=600,
                ).raise_for_status()

        def raw_export(project_id):
            response = raw.get(
                f"{srv.url}/api/projects/{project_id}/export",
                timeout=600,
                params={"exportType": "JSON", "download_all_tasks": "true"},
            )
            response.raise_for_status()
            return response.json()

        xml = render_config(5)
        specs = [_task(i) for i in range(tasks)]
        payloads = [backend._payload(t) for t in specs]
        n = len(specs)
        stamp = int(time.time())
        # Push: raw import and grewkit push alternate, each into a project of its own.
        push_rows = []
        for rep in range(repeats):
            raw_id = backend.ensure_project(title=f"bench-raw-{stamp}-{rep}", config_xml=xml)
            t0 = time.perf_counter()
            raw_import(raw_id, payloads)
            raw_s = time.perf_counter() - t0
            gk_id = backend.ensure_project(title=f"bench-grewkit-{stamp}-{rep}", config_xml=xml)
            t0 = time.perf_counter()
            result = backend.push_tasks(gk_id, specs, batch_size=batch)
            push_s = time.perf_counter() - t0
            assert result.created == n, result
            push_rows.append((push_s, raw_s))
            progress(f"push {rep + 1}: grewkit {push_s:.1f} s, raw {raw_s:.1f} s")
        t0 = time.perf_counter()
        again = backend.push_tasks(gk_id, specs, batch_size=batch)
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
        for rep in range(repeats):
            project = _bench_project(root / "projects" / f"bench-{stamp}-{rep}", specs)
            run = AnnotationRun(
                key="bench", backend="labelstudio", url=srv.url, document_root=str(root), project_id=ann_id
            )
            t0 = time.perf_counter()
            summary = campaign.pull(project, backend, run)
            pull_s = time.perf_counter() - t0
            assert summary.fetched == n, summary
            t0 = time.perf_counter()
            raw_export(ann_id)
            exports.append(time.perf_counter() - t0)
            raw_s = (exports[-2] + exports[-1]) / 2
            pull_rows.append((pull_s, raw_s))
            progress(
                f"pull {rep + 1}: grewkit {pull_s:.1f} s, raw {raw_s:.1f} s (mean of the exports before and after)"
            )
        t0 = time.perf_counter()
        incremental = campaign.pull(project, backend, run)
        incremental_s = time.perf_counter() - t0
        progress(
            f"throughput: push {n / min(g for g, _ in push_rows):.0f} tasks/s at best; identities resolved: "
            f"{summary.report['identities']}"
        )
        return {
            "machine": machine(),
            "tasks": n,
            "batch": batch,
            "push": [{"grewkit_s": g, "raw_s": r} for g, r in push_rows],
            "pull": [{"grewkit_s": g, "raw_s": r} for g, r in pull_rows],
            "repush_s": repush,
            "incremental_pull_s": incremental_s,
            "incremental_fetched": incremental.fetched,
        }
    finally:
        srv.stop()
        if server_dir is None:
            shutil.rmtree(root, ignore_errors=True)


def markdown_server(result: dict) -> str:
    def cells(rows):
        return [f"{r['grewkit_s']:.1f} s / {r['raw_s']:.1f} s = {r['grewkit_s'] / r['raw_s']:.2f}x" for r in rows]

    def median_ratio(rows):
        return f"{float(np.median([r['grewkit_s'] / r['raw_s'] for r in rows])):.2f}x"

    n, repeats = result["tasks"], len(result["push"])
    blank = [""] * (repeats - 1)
    return markdown_table(
        [
            f"step ({n:,} tasks, batches of {result['batch']})",
            *(f"rep {i + 1}: grewkit / raw" for i in range(repeats)),
            "median ratio",
        ],
        [
            ("import with predictions", *cells(result["push"]), median_ratio(result["push"])),
            (
                f"pull (export + manifest + resolve) / export, {n:,} annotations",
                *cells(result["pull"]),
                median_ratio(result["pull"]),
            ),
            ("re-push, nothing changed", f"{result['repush_s']:.1f} s", *blank, "-"),
            (
                "incremental pull, nothing changed",
                f"{result['incremental_pull_s']:.1f} s ({result['incremental_fetched']} fetched)",
                *blank,
                "-",
            ),
        ],
    )


@bench_annotate_group.command("server")
@click.option("--tasks", default=10_000, show_default=True, help="Tasks to push and pull.")
@click.option("--batch", default=1000, show_default=True, help="Tasks per import request.")
@click.option("--repeats", default=2, show_default=True, help="Interleaved repetitions of each measurement.")
@SERVER_DIR_OPTION
@JSON_OPTION
def server_command(tasks, batch, repeats, server_dir, as_json):
    """Push and pull through grewkit against plain HTTP import and export on the same Label Studio server.

    \b
    Example:
      grewkit bench annotate server --tasks 10000 --server-dir /tmp/sdk-ls-bench
    """
    emit(server_speed(tasks=tasks, batch=batch, repeats=repeats, server_dir=server_dir), as_json, markdown_server)


# -- accuracy ----------------------------------------------------------------------------------


def annotation_accuracy(
    project_dir: Path, *, error_rate: float, annotators: int, k: int, server_dir: Path | None
) -> dict:
    """Identity accuracy after a real push / annotate / pull on a synthetic world, with annotator errors."""
    import random

    from grewkit.annotate import campaign
    from grewkit.annotate.resolve import UnionFind, identity_accuracy, latest_answers
    from grewkit.annotate.server import LabelStudioServer
    from grewkit.core.project import Project
    from grewkit.synth.annotators import SimulatedAnnotator, answer_from_truth
    from grewkit.synth.truth import ground_truth

    src = ground_truth(project_dir)
    root = server_dir or Path(tempfile.mkdtemp(prefix="grewkit-bench-ls-"))
    stamp = int(time.time())
    project = Project.init(root / "projects" / f"accuracy-{stamp}")
    (project.root / "media" / "synth").symlink_to(Path(project_dir).resolve() / "media" / "synth")
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
    tail = tail.replace("k = 5", f"k = {k}", 1).replace(
        "annotators_per_task = 1", f"annotators_per_task = {annotators}", 1
    )
    project.settings_path.write_text(head + "[annotate]\n" + tail)
    srv = LabelStudioServer(root / "server", document_root=root)
    srv.start(timeout=600)
    try:
        campaign.compute_candidates(project, show_progress=False)
        backend, run = campaign.open_backend(
            project, url=srv.url, api_key=srv.credentials.token, document_root=str(root)
        )
        campaign.push(project, backend, run, show_progress=False)
        tasks = backend.export(run.project_id)
        invite = backend.sdk.organizations.invites.get_invite_link().invite_url
        for a in range(annotators):
            person = SimulatedAnnotator(srv.url, invite, f"sim{a}-{stamp}@lab.org")
            rng = random.Random(a)
            for task in tasks:
                person.answer(
                    task["id"],
                    answer_from_truth(task["data"], truth, attributes=attributes, error_rate=error_rate, rng=rng),
                )
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
        naive_rows = [
            {"tracklet_id": t, "identity_id": root_id, "source": "annotation", "status": "resolved", "reason": None}
            for root_id, members in uf.groups().items()
            for t in members
        ]
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
        return {
            "machine": machine(),
            "error_rate": error_rate,
            "annotators": annotators,
            "tasks": len(tasks),
            "pair_precision": ours["pair_precision"],
            "pair_recall": ours["pair_recall"],
            "naive_precision": naive["pair_precision"],
            "naive_recall": naive["pair_recall"],
            "conflicts": len(report["conflicts"]),
            "conflict_counts": dict(sorted(report["conflict_counts"].items())),
            "held_out_tracklets": report["held_out_tracklets"],
            "tracklets": len(truth),
            "attributes_right": right,
            "attributes": total,
        }
    finally:
        srv.stop()


def markdown_accuracy(r: dict) -> str:
    conflicts = ", ".join(f"{k} {v}" for k, v in r["conflict_counts"].items())
    return markdown_table(
        [
            "error rate",
            "annotators",
            "tasks",
            "pair precision",
            "pair recall",
            "naive precision",
            "naive recall",
            "conflicts caught",
            "held-out tracklets",
            "attribute accuracy",
        ],
        [
            (
                f"{r['error_rate']:.2f}",
                r["annotators"],
                r["tasks"],
                f"{r['pair_precision']:.3f}",
                f"{r['pair_recall']:.3f}",
                f"{r['naive_precision']:.3f}",
                f"{r['naive_recall']:.3f}",
                f"{r['conflicts']} ({conflicts})",
                f"{r['held_out_tracklets']} of {r['tracklets']}",
                f"{r['attributes_right']}/{r['attributes']}",
            )
        ],
    )


@bench_annotate_group.command("accuracy")
@click.argument("project_dir", metavar="PROJECT", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option(
    "--error-rate", default=0.1, show_default=True, help="Share of wrong answers of each simulated annotator."
)
@click.option("--annotators", default=2, show_default=True, help="Simulated annotators, each answering every task.")
@click.option("--k", default=5, show_default=True, help="Candidates per task ([annotate] k).")
@SERVER_DIR_OPTION
@JSON_OPTION
def accuracy_command(project_dir, error_rate, annotators, k, server_dir, as_json):
    """Identity accuracy after push, simulated annotators and pull on a synthetic world, against a naive union.

    \b
    Example:
      grewkit bench annotate accuracy /tmp/synth --error-rate 0.1 --annotators 2
    """
    emit(
        annotation_accuracy(project_dir, error_rate=error_rate, annotators=annotators, k=k, server_dir=server_dir),
        as_json,
        markdown_accuracy,
    )
