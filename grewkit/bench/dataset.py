"""``grewkit bench dataset``: how much of a synthetic world a finished run turns into a benchmark, and how right.

On a project with ground truth (``grewkit synth``) after ``grewkit run``:

- **yield**: of the true people seen by two or more cameras, the share that reach train/val/test,
  overall and among those the tracker kept (kept tracklets matched to them) in two or more cameras.
  A person reaches the benchmark when one released train/val/test identity holds their sequences
  from at least two cameras: a cross-view benchmark needs the link, not just one walk;
- **label pair precision / recall** over pairs of released train/val/test sequences: a pair is
  labelled "same" when both carry one released identity, and is truly "same" when both are one
  true person (a sequence whose tracklet matches no true person is a person of its own);
- **distractor leaks**: distractor sequences whose true person is also the true person of a
  train/val/test sequence (an evaluation with distractors counts a probe's own walk as an impostor),
  and true people whose released sequences (distractors included) carry several released identities;
- **cost**: tasks and answers pulled from the annotation server per released benchmark sequence,
  and annotator seconds (the server's lead times) in all, per task, per link and per released
  sequence (``grewkit.annotate.timing``); null where the annotations manifest records no lead time.

``score_dataset`` is a pure function of the manifests' tables, so each figure is checked on
hand-built tables; ``score_project`` reads them from a project. ``--project`` scores one
finished project; without it, a sweep builds one small world, runs synth to render once, and for
each error rate and annotator count runs annotation onwards (through one real Label Studio) on a
copy of it. ``--replay`` runs the campaign offline on a finished project's candidates
(``replay_campaign``: the real round planner and resolver with simulated answers, no server),
for many draws in seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import click
import pyarrow as pa

from grewkit.annotate.timing import time_figures
from grewkit.bench.report import JSON_OPTION, emit, load_average, machine, markdown_table

BENCHMARK_SPLITS = ("train", "val", "test")


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _rows(table: pa.Table | None, columns: list[str]) -> list[tuple]:
    if table is None or table.num_rows == 0:
        return []
    data = table.select(columns).to_pydict()
    return list(zip(*(data[c] for c in columns)))


def score_dataset(
    *,
    splits: pa.Table,
    sequences: pa.Table,
    truth: pa.Table,
    tracklets: pa.Table,
    gt_identities: pa.Table,
    gt_tracklets: pa.Table,
    annotations: pa.Table | None = None,
) -> dict:
    """The figures of a released dataset against the ground truth, from tables only.

    ``splits`` (sequence_id, identity_id, camera_id, split), ``sequences`` (sequence_id,
    tracklet_id; one row per modality is fine), ``truth`` (tracked tracklet_id -> true identity_id,
    null when it matches no one), ``tracklets`` (tracked tracklet_id, camera_id, kept),
    ``gt_identities`` and ``gt_tracklets`` (the ground truth's tracklet -> identity and tracklet ->
    camera), ``annotations`` (task_key, was_cancelled; lead_time_s and result_json for the time
    figures, grewkit.annotate.timing) or None.
    """
    true_of_tracklet = {t: i for t, i in _rows(truth, ["tracklet_id", "identity_id"]) if i is not None}
    tracklet_of_sequence = dict(_rows(sequences, ["sequence_id", "tracklet_id"]))

    # True multi-camera people, and those the tracker kept in two or more cameras.
    gt_camera = dict(_rows(gt_tracklets, ["tracklet_id", "camera_id"]))
    true_cameras: dict[str, set] = defaultdict(set)
    for t, i in _rows(gt_identities, ["tracklet_id", "identity_id"]):
        if t in gt_camera:
            true_cameras[i].add(gt_camera[t])
    multi_camera = {i for i, cams in true_cameras.items() if len(cams) >= 2}
    kept_cameras: dict[str, set] = defaultdict(set)
    for t, camera, kept in _rows(tracklets, ["tracklet_id", "camera_id", "kept"]):
        if kept and t in true_of_tracklet:
            kept_cameras[true_of_tracklet[t]].add(camera)
    kept_multi = {i for i in multi_camera if len(kept_cameras.get(i, ())) >= 2}

    # Released sequences (one row per sequence) with their true person; no match: a person of its own.
    released: dict[str, tuple[str, str, str, str]] = {}
    for seq, label, camera, split in _rows(splits, ["sequence_id", "identity_id", "camera_id", "split"]):
        t = tracklet_of_sequence.get(seq)
        person = true_of_tracklet.get(t) if t is not None else None
        released[seq] = (label, camera, split, person if person is not None else f"<no person: {seq}>")
    bench = {s: r for s, r in released.items() if r[2] in BENCHMARK_SPLITS}

    # Yield: a person reaches the benchmark through one label holding them in >= 2 cameras.
    cameras_of: dict[tuple[str, str], set] = defaultdict(set)
    for label, camera, _split, person in bench.values():
        cameras_of[(label, person)].add(camera)
    reached = {person for (_label, person), cams in cameras_of.items() if len(cams) >= 2} & multi_camera
    present = {person for _l, _c, _s, person in bench.values()} & multi_camera

    # Pair precision / recall over benchmark sequences, by counting within groups.
    by_label = Counter(r[0] for r in bench.values())
    by_person = Counter(r[3] for r in bench.values())
    by_both = Counter((r[0], r[3]) for r in bench.values())
    same_label = sum(_pairs(n) for n in by_label.values())
    same_person = sum(_pairs(n) for n in by_person.values())
    both = sum(_pairs(n) for n in by_both.values())

    # Leaks: distractor sequences of a person who is also in train/val/test.
    bench_people = {r[3] for r in bench.values()}
    leaked = [s for s, r in released.items() if r[2] == "distractor" and r[3] in bench_people]
    leaked_people = {released[s][3] for s in leaked}
    test_labels = {r[0] for r in bench.values() if r[2] == "test"}
    test_leaked = {r[0] for r in bench.values() if r[2] == "test" and r[3] in leaked_people}
    # One true person under several released labels (only real people: unmatched ones cannot split).
    labels_of: dict[str, Counter] = defaultdict(Counter)
    for label, _c, _s, person in released.values():
        if not person.startswith("<no person"):
            labels_of[person][label] += 1
    split_people = {p for p, c in labels_of.items() if len(c) > 1}
    split_off = sum(sum(c.values()) - max(c.values()) for p, c in labels_of.items() if p in split_people)

    # Cost.
    tasks = answers = 0
    if annotations is not None and annotations.num_rows:
        tasks = len(set(annotations["task_key"].to_pylist()))
        done = [not bool(c) for c in annotations["was_cancelled"].to_pylist()]
        answers = sum(done)
    n_bench = len(bench)
    timing = time_figures(annotations, n_bench)

    def share(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "multi_camera_people": len(multi_camera),
        "kept_multi_camera_people": len(kept_multi),
        "reached_people": len(reached),
        "reached_kept_people": len(reached & kept_multi),
        "present_people": len(present),
        "yield_overall": share(len(reached), len(multi_camera)),
        "yield_kept": share(len(reached & kept_multi), len(kept_multi)),
        "benchmark_sequences": n_bench,
        "benchmark_identities": {s: len({r[0] for r in bench.values() if r[2] == s}) for s in BENCHMARK_SPLITS},
        "distractor_sequences": sum(r[2] == "distractor" for r in released.values()),
        "same_label_pairs": same_label,
        "same_person_pairs": same_person,
        "correct_pairs": both,
        "pair_precision": share(both, same_label),
        "pair_recall": share(both, same_person),
        "distractor_leak_sequences": len(leaked),
        "distractor_leak_people": len(leaked_people),
        "test_identities_leaked": len(test_leaked),
        "test_identities": len(test_labels),
        "split_people": len(split_people),
        "split_off_sequences": split_off,
        "tasks": tasks,
        "answers": answers,
        "tasks_per_sequence": share(tasks, n_bench),
        "answers_per_sequence": share(answers, n_bench),
        **timing,
    }


def score_project(project_dir: Path) -> dict:
    """``score_dataset`` on a finished synthetic project (its tracklets matched to the truth by box overlap)."""
    from grewkit.core.errors import GrewkitError
    from grewkit.core.project import Project
    from grewkit.synth.truth import ground_truth, match_tracklets_to_truth

    project = Project.open(project_dir)
    gt = ground_truth(project)
    for name in ("splits", "sequences", "tracklets"):
        if not project.has(name):
            raise GrewkitError(
                f"no {name} manifest: run `grewkit run` (through split) first",
                path=project.manifests_dir / f"{name}.parquet",
            )
    return score_dataset(
        splits=project.read("splits"),
        sequences=project.read("sequences", ["sequence_id", "tracklet_id"]),
        truth=match_tracklets_to_truth(project),
        tracklets=project.read("tracklets"),
        gt_identities=gt.read("identities", ["tracklet_id", "identity_id"]),
        gt_tracklets=gt.read("tracklets", ["tracklet_id", "camera_id"]),
        annotations=project.read("annotations") if project.has("annotations") else None,
    )


# -- the sweep ---------------------------------------------------------------------------------


def _set_option(path: Path, section: str, key: str, value: str) -> None:
    """Rewrite one ``key = value`` line of a section of grewkit.toml (value as TOML text)."""
    lines = path.read_text().splitlines()
    start = lines.index(f"[{section}]")
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("["):
            break
        if lines[i].startswith(f"{key} = "):
            lines[i] = f"{key} = {value}"
            path.write_text("\n".join(lines) + "\n")
            return
    raise click.ClickException(f"no {key} in [{section}] of {path}")


def sweep(
    *,
    error_rates: list[float],
    annotators: list[int],
    cameras: int,
    identities: int,
    seconds: float,
    seed: int,
    work_dir: Path | None,
) -> dict:
    """One world through render, then per (error rate, annotators) a copy of it from the annotation steps to split."""
    import os

    from grewkit.annotate.server import LabelStudioServer
    from grewkit.core.project import Project
    from grewkit.pipeline.run import Pipeline

    root = Path(work_dir or tempfile.mkdtemp(prefix="grewkit-bench-dataset-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    base_dir = root / "projects" / f"world-c{cameras}-i{identities}-s{seconds:g}-seed{seed}"
    steps = '["synth", "ingest", "detect", "track", "render"]'
    # The copies take only these: the world's manifests are theirs as they are, and the stages'
    # unit states name the world's folder (absolute paths), which a copy must not plan against.
    copy_steps = '["serve", "candidates", "push", "annotate", "pull", "stop", "split"]'
    started = time.perf_counter()
    ready = base_dir.parent / f"{base_dir.name}.ready"  # the world is rendered: later sweeps reuse it
    reused = ready.exists()
    if not ready.exists():
        project = Project.init(base_dir) if not (base_dir / "grewkit.toml").exists() else Project.open(base_dir)
        for key, value in (
            ("cameras", str(cameras)),
            ("identities", str(identities)),
            ("seconds", f"{float(seconds)}"),
            ("seed", str(seed)),
        ):
            _set_option(project.settings_path, "synth", key, value)
        _set_option(project.settings_path, "run", "steps", steps)
        # A few dozen identities at most: no val set, test gets 2 of every 5 eligible ones (as the demo).
        _set_option(project.settings_path, "split", "ratios", "[3, 0, 2]")
        _set_option(project.settings_path, "split", "val_identities", "0")
        with contextlib.redirect_stdout(sys.stderr):
            Pipeline(Project.open(base_dir), quiet=True).run(until="render")
        ready.write_text("")
    world_s = round(time.perf_counter() - started, 1) if not reused else None
    # A server named in the environment is used as it is (its document root must hold WORK_DIR);
    # else one server for the whole sweep, in WORK_DIR/server so a rerun skips its migrations.
    server = None
    env = {}
    if not os.environ.get("GREWKIT_LABEL_STUDIO_URL"):
        server = LabelStudioServer(root / "server", document_root=root)
        server.start(timeout=900)
        env = {
            "GREWKIT_LABEL_STUDIO_URL": server.url,
            "GREWKIT_LABEL_STUDIO_API_KEY": server.credentials.token,
            "GREWKIT_LABEL_STUDIO_DOCUMENT_ROOT": str(root),
        }
    saved = {k: os.environ.get(k) for k in env}
    rows = []
    try:
        os.environ.update(env)
        for n in annotators:
            for rate in error_rates:
                stamp = int(time.time())
                copy = root / "projects" / f"{base_dir.name}-e{rate:g}-a{n}-{stamp}"
                shutil.copytree(base_dir, copy, symlinks=True)
                _set_option(copy / "grewkit.toml", "run", "steps", copy_steps)
                _set_option(copy / "grewkit.toml", "run", "simulated_error_rate", f"{rate}")
                _set_option(copy / "grewkit.toml", "annotate", "annotators_per_task", str(n))
                # Label Studio refuses project titles (project name / campaign) over 50 characters.
                _set_option(copy / "grewkit.toml", "project", "name", '"bench dataset"')
                _set_option(copy / "grewkit.toml", "annotate", "campaign", f'"e{rate:g}-a{n}-{stamp}"')
                t = time.perf_counter()
                # The steps print what they did; the figures alone go to stdout (--json).
                with contextlib.redirect_stdout(sys.stderr):
                    Pipeline(Project.open(copy), quiet=True).run(until="split")
                rows.append(
                    {
                        "error_rate": rate,
                        "annotators": n,
                        "project": str(copy),
                        "seconds": round(time.perf_counter() - t, 1),
                        **score_project(copy),
                    }
                )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if server is not None:
            server.stop()
    return {
        "machine": machine(),
        "load_average": load_average(),
        "world": {
            "cameras": cameras,
            "identities": identities,
            "seconds": seconds,
            "seed": seed,
            "project": str(base_dir),
            "synth_to_render_s": world_s,
        },
        "rows": rows,
    }


# -- the replay --------------------------------------------------------------------------------


def _simulated_answers(tasks, annotators: int, truth, attrs, rate: float, rng, clock, start: int) -> list[dict]:
    """Annotation rows for planned tasks answered offline, as ``grewkit.synth.answers`` answers them
    through the server: every task by each annotator, an adjudication by one who answered none of
    its chain (all of them when there is none); lead times from the default time model."""
    import json
    from datetime import UTC, datetime, timedelta

    from grewkit.synth.annotators import TimeModel, answer_from_truth

    model = TimeModel()
    people = [f"simulated-{i + 1}@grewkit.local" for i in range(annotators)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows, n = [], start
    for task in tasks:
        data = {"query_id": task.query, "kind": task.kind}
        data |= {f"cand{i + 1}_id": c for i, (c, _) in enumerate(task.candidates)}
        if task.avoid_annotators:
            data["answered_chain"] = list(task.avoid_annotators)
        chosen = people
        if task.kind == "adjudicate":
            others = [p for p in people if p not in task.avoid_annotators]
            chosen = [others[rng.randrange(len(others))]] if others else people
        for person in chosen:
            n += 1
            result = answer_from_truth(data, truth, attributes=attrs, error_rate=rate, rng=rng)
            rows.append(
                {
                    "annotation_id": f"replay#{n}",
                    "task_key": task.key,
                    "task_id": n,
                    "query_tracklet_id": task.query,
                    "annotator": person,
                    "created_at": t0,
                    "updated_at": t0 + timedelta(seconds=n),
                    "was_cancelled": False,
                    "lead_time_s": model.lead_time(data, result, clock),
                    "result_json": json.dumps(result),
                    "task_data_json": json.dumps(data),
                }
            )
    return rows


def replay_campaign(
    *,
    candidates: pa.Table,
    neighbours: pa.Table,
    tracklets: pa.Table,
    truth: dict,
    attributes: dict,
    timeline,
    settings,
    error_rate: float,
    annotators: int,
    draw: int,
) -> tuple[list[dict], list[dict], object, bool]:
    """A campaign offline, from tables: round 1 from ``candidates`` and ``neighbours`` (the
    manifests), then answers simulated from
    ``truth`` (tracklet -> person), resolve, plan the next round, until the plan is empty or
    ``settings.max_rounds``. ``settings``: the annotate settings (k, min_same_votes, max_asks,
    max_adjudications, max_rounds, first_round). Returns (rounds, annotation rows, last resolution,
    closed: whether the last plan was empty)."""
    import random

    from grewkit.annotate.campaign import _task_dict, mark_audits
    from grewkit.annotate.candidates import neighbour_lists, neighbour_scores
    from grewkit.annotate.resolve import resolve
    from grewkit.annotate.rounds import candidate_scores, first_round, plan_after
    from grewkit.core.schemas import get_schema

    scores = candidate_scores(candidates)
    near = neighbour_scores(neighbours)
    info = {r["tracklet_id"]: r for r in tracklets.to_pylist()}
    rng, clock = random.Random(draw), random.Random(f"lead-time-{draw}")
    lists = neighbour_lists(neighbours)
    tasks = first_round(candidates, settings.k, mode=settings.first_round, neighbours=lists)
    rounds: list[dict] = []
    rows: list[dict] = []
    resolution = None
    while tasks and len(rounds) < settings.max_rounds:
        rounds.append({"round": len(rounds) + 1, "tasks": [_task_dict(t) for t in tasks]})
        rows += _simulated_answers(tasks, annotators, truth, attributes, error_rate, rng, clock, len(rows))
        annotations = pa.Table.from_pylist(rows, schema=get_schema("annotations").arrow)
        resolution = resolve(
            annotations, tracklets, timeline=timeline, scores=scores, neighbour_scores=near, **settings.link_options()
        )
        plan = plan_after(
            rounds,
            state=resolution.state,
            scores=scores,
            info=info,
            timeline=timeline,
            settings=settings,
            neighbours=lists,
        )
        tasks = plan.tasks
        resolution.identities = mark_audits(
            resolution.identities,
            {
                "unaudited_tracklets": plan.unaudited,
                "undecided_audit_tracklets": plan.undecided_audits,
                "twin_tracklets": plan.twins,
            },
        )
    return rounds, rows, resolution, not tasks


def replay_project(project_dir: Path, *, error_rate: float, annotators: int, draw: int) -> dict:
    """One campaign replayed offline on a project's candidates (``replay_campaign``: the real round
    planner and resolver, simulated answers from the ground truth, no server). Scored as
    ``score_dataset`` scores a release in which every resolved tracklet is one sequence, identities
    seen in two or more cameras are the benchmark and the rest distractors (the split's own drops,
    e.g. unaudited distractors, aside)."""
    from grewkit.annotate.campaign import read_neighbours, settings_of
    from grewkit.annotate.candidates import kept_tracklets
    from grewkit.annotate.timeline import Timeline
    from grewkit.core.errors import GrewkitError
    from grewkit.core.project import Project
    from grewkit.core.schemas import get_schema
    from grewkit.synth.answers import truth_of_tracklets
    from grewkit.synth.truth import ground_truth, match_tracklets_to_truth

    project = Project.open(project_dir)
    if not project.has("candidates"):
        raise GrewkitError(
            "no candidates manifest: run `grewkit annotate candidates` first", path=project.manifests_dir
        )
    tracklets = project.read("tracklets")
    truth, attrs = truth_of_tracklets(project)
    rounds, rows, resolution, closed = replay_campaign(
        candidates=project.read("candidates"),
        neighbours=read_neighbours(project),
        tracklets=tracklets,
        truth=truth,
        attributes=attrs,
        timeline=Timeline.of_project(project, kept_tracklets(project)),
        settings=settings_of(project),
        error_rate=error_rate,
        annotators=annotators,
        draw=draw,
    )
    info = {r["tracklet_id"]: r for r in tracklets.to_pylist()}
    camera = {t: r["camera_id"] for t, r in info.items()}
    resolved = [r for r in resolution.identities.to_pylist() if r["status"] == "resolved"] if resolution else []
    cams: dict[str, set] = defaultdict(set)
    for r in resolved:
        cams[r["identity_id"]].add(camera[r["tracklet_id"]])
    splits = pa.table(
        {
            "sequence_id": [r["tracklet_id"] for r in resolved],
            "identity_id": [r["identity_id"] for r in resolved],
            "camera_id": [camera[r["tracklet_id"]] for r in resolved],
            "split": ["train" if len(cams[r["identity_id"]]) >= 2 else "distractor" for r in resolved],
        }
    )
    gt = ground_truth(project)
    figures = score_dataset(
        splits=splits,
        sequences=pa.table({"sequence_id": splits["sequence_id"], "tracklet_id": splits["sequence_id"]}),
        truth=match_tracklets_to_truth(project),
        tracklets=tracklets,
        gt_identities=gt.read("identities", ["tracklet_id", "identity_id"]),
        gt_tracklets=gt.read("tracklets", ["tracklet_id", "camera_id"]),
        annotations=pa.Table.from_pylist(rows, schema=get_schema("annotations").arrow),
    )
    report = resolution.report if resolution else {}
    return {
        "error_rate": error_rate,
        "annotators": annotators,
        "draw": draw,
        "rounds": [len(r["tasks"]) for r in rounds],
        "closed": closed,
        "held_out_tracklets": report.get("held_out_tracklets", 0),
        "cut_links": report.get("pairs", {}).get("cut", 0),
        **figures,
    }


def replay(project_dir: Path, *, error_rates: list[float], annotators: list[int], draws: int) -> dict:
    """``replay_project`` for each error rate, annotator count and draw (seeds 0 .. draws-1)."""
    rows = [
        replay_project(project_dir, error_rate=rate, annotators=n, draw=d)
        for n in annotators
        for rate in error_rates
        for d in range(draws)
    ]
    summary = []
    for n in annotators:
        for rate in error_rates:
            mine = [r for r in rows if r["annotators"] == n and r["error_rate"] == rate]
            per_seq = [r["tasks_per_sequence"] for r in mine if r["tasks_per_sequence"] is not None]
            summary.append(
                {
                    "error_rate": rate,
                    "annotators": n,
                    "draws": len(mine),
                    "mean_tasks_per_sequence": round(sum(per_seq) / len(per_seq), 3) if per_seq else None,
                    "max_tasks_per_sequence": max(per_seq, default=None),
                    "min_yield_kept": min((r["yield_kept"] for r in mine if r["yield_kept"] is not None), default=None),
                    "min_pair_precision": min(
                        (r["pair_precision"] for r in mine if r["pair_precision"] is not None), default=None
                    ),
                    "draws_below_precision_0.98": sum(
                        r["pair_precision"] is not None and r["pair_precision"] < 0.98 for r in mine
                    ),
                    "min_pair_recall": min(
                        (r["pair_recall"] for r in mine if r["pair_recall"] is not None), default=None
                    ),
                    "max_distractor_leaks": max(r["distractor_leak_sequences"] for r in mine),
                }
            )
    return {
        "machine": machine(),
        "load_average": load_average(),
        "replay": str(project_dir),
        "rows": rows,
        "summary": summary,
    }


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_dataset(result: dict) -> str:
    replayed = "replay" in result
    headers = [
        "error rate",
        "annotators",
        *(["draw"] if replayed else []),
        "yield (kept in >= 2 cams)",
        "yield (overall)",
        "benchmark seqs / ids",
        "pair precision",
        "pair recall",
        "distractor leaks (seqs, test ids)",
        "split people (seqs)",
        "tasks / answers",
        "tasks per seq",
        "annotator s per task / link / seq",
    ]
    rows = []
    for r in result["rows"]:
        ids = "/".join(str(r["benchmark_identities"][s]) for s in BENCHMARK_SPLITS)
        rows.append(
            (
                _cell(r.get("error_rate"), 2),
                _cell(r.get("annotators")),
                *([_cell(r.get("draw"))] if replayed else []),
                f"{r['reached_kept_people']}/{r['kept_multi_camera_people']} = {_cell(r['yield_kept'])}",
                f"{r['reached_people']}/{r['multi_camera_people']} = {_cell(r['yield_overall'])}",
                f"{r['benchmark_sequences']} / {ids}",
                f"{_cell(r['pair_precision'])} ({r['correct_pairs']}/{r['same_label_pairs']})",
                f"{_cell(r['pair_recall'])} ({r['correct_pairs']}/{r['same_person_pairs']})",
                f"{r['distractor_leak_sequences']}, {r['test_identities_leaked']} of {r['test_identities']}",
                f"{r['split_people']} ({r['split_off_sequences']})",
                f"{r['tasks']} / {r['answers']}",
                _cell(r["tasks_per_sequence"], 2),
                " / ".join(
                    _cell(r.get(k), 1) for k in ("seconds_per_task", "seconds_per_link", "seconds_per_sequence")
                ),
            )
        )
    head = f"{result['machine']}, load average {result['load_average']}"
    if "world" in result:
        w = result["world"]
        head += f"; world {w['cameras']} cameras, {w['identities']} walkers, {w['seconds']:g} s, seed {w['seed']} " + (
            f"(synth to render {w['synth_to_render_s']} s)"
            if w["synth_to_render_s"] is not None
            else "(world reused from an earlier sweep)"
        )
    if replayed:
        head += f"; offline replay of {result['replay']} (no server; every resolved tracklet one sequence)"
    note = "benchmark ids are train/val/test; leaks: distractor sequences of a train/val/test person, test identities affected"
    out = head + "\n\n" + markdown_table(headers, rows) + "\n\n" + note
    if replayed:
        keys = list(result["summary"][0]) if result["summary"] else []
        out += "\n\n" + markdown_table(keys, [tuple(_cell(v) for v in row.values()) for row in result["summary"]])
    return out


@click.command("dataset")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Score this finished synthetic project instead of running a sweep.",
)
@click.option(
    "--error-rates",
    default="0.02,0.10",
    show_default=True,
    help="Sweep: comma-separated error rates of the simulated annotators ([run] simulated_error_rate).",
)
@click.option(
    "--annotators",
    "annotators",
    default="1",
    show_default=True,
    help="Sweep: comma-separated simulated annotators per task ([annotate] annotators_per_task).",
)
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Replay the campaign offline on this project's candidates (no server): the planner and resolver "
    "with simulated answers, for each error rate, annotator count and draw. Reads only.",
)
@click.option("--draws", default=5, show_default=True, help="Replay: draws (answer seeds 0 .. N-1) per setting.")
@click.option("--cameras", default=3, show_default=True, help="Sweep: cameras of the synthetic world.")
@click.option("--identities", default=14, show_default=True, help="Sweep: people in the world.")
@click.option("--seconds", default=25.0, show_default=True, help="Sweep: seconds of footage per camera.")
@click.option("--seed", default=0, show_default=True, help="Sweep: seed of the world.")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Sweep: keep the world, the server and each run here (reused: the world and the server's migrations).",
)
@JSON_OPTION
def bench_dataset_command(
    project_dir, replay_dir, draws, error_rates, annotators, cameras, identities, seconds, seed, work_dir, as_json
):
    """Yield, label pair precision/recall, distractor leaks and annotation cost of a released dataset.

    \b
    Examples:
      grewkit bench dataset --project /tmp/demo            # a finished `grewkit run` of a synthetic world
      grewkit bench dataset --error-rates 0.02,0.10,0.20 --annotators 1,2 --work-dir /tmp/bench-dataset
      grewkit bench dataset --replay /tmp/demo --annotators 1,2 --draws 10   # offline, seconds per draw
    """
    if replay_dir is not None:
        result = replay(
            replay_dir,
            error_rates=[float(x) for x in error_rates.split(",")],
            annotators=[int(x) for x in annotators.split(",")],
            draws=draws,
        )
    elif project_dir is not None:
        from grewkit.core.project import Project

        settings = Project.open(project_dir).settings
        run = settings.section("run")
        # The error rate is the project's own only when its annotators were simulated.
        row = {
            "error_rate": run.simulated_error_rate if run.annotation == "simulate" else None,
            "annotators": settings.section("annotate").annotators_per_task,
            "project": str(project_dir),
        }
        result = {"machine": machine(), "load_average": load_average(), "rows": [{**row, **score_project(project_dir)}]}
    else:
        result = sweep(
            error_rates=[float(x) for x in error_rates.split(",")],
            annotators=[int(x) for x in annotators.split(",")],
            cameras=cameras,
            identities=identities,
            seconds=seconds,
            seed=seed,
            work_dir=work_dir,
        )
    emit(result, as_json, markdown_dataset)
