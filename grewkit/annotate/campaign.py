"""The steps of a labelling campaign, as functions the commands (and tests) call.

candidates -> push (media, project, tasks) -> annotators work -> pull (raw annotations,
then identities and attributes) -> status. Each step is idempotent and resumable.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.annotate.backends import backend_class
from grewkit.annotate.backends.base import AnnotationBackend, PushResult
from grewkit.annotate.config import config_hash, render_config
from grewkit.annotate.runs import ANNOTATION_DIR, AnnotationRun, resolve_connection
from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.wording import counted

UNAUDITED = "unaudited: seen in one camera only, not yet shown beside the benchmark identities"
AUDIT_UNDECIDED = (
    "audit undecided: seen in one camera only, and its audits, asked the most times, could not rule out "
    "a benchmark identity"
)
TWIN = (
    "twin: seen in one camera only; the answers make it the person of a benchmark identity, but one camera "
    "sees it at the same time as a tracklet of that identity (a tracker's second box on one walker?)"
)


def settings_of(project):
    return project.settings.section("annotate")


def compute_candidates(project, *, show_progress: bool = True) -> pa.Table:
    """Write the candidates manifest and the neighbours manifest (pieces of one video scored with
    the same similarity), from one embedding of the kept tracklets; returns the candidates."""
    from grewkit.annotate.candidates import embed_tracklets, rank_embedded, score_neighbours

    settings = settings_of(project)

    def factory(label, total):
        return progress_bar(label, total=total, unit="tracklet", enabled=show_progress)

    tracklets, similarities = embed_tracklets(project, settings, progress_factory=factory)
    table = rank_embedded(project, settings, tracklets, similarities)
    neighbours = score_neighbours(project, settings, tracklets, similarities)
    project.write("candidates", table)
    project.write("neighbours", neighbours)
    return table


def read_neighbours(project) -> pa.Table:
    """The neighbours manifest, which the candidates step writes beside the candidates."""
    if not project.has("neighbours"):
        raise GrewkitError(
            "no neighbours manifest (projects ranked before it existed): run `grewkit annotate candidates` again",
            path=project.manifests_dir / "neighbours.parquet",
        )
    return project.read("neighbours")


def open_backend(
    project, *, url=None, api_key=None, document_root=None, backend: str = "labelstudio", campaign: str | None = None
) -> tuple[AnnotationBackend, AnnotationRun]:
    key = campaign or settings_of(project).campaign
    run = AnnotationRun.load(project, key)
    url, api_key, document_root = resolve_connection(
        project, url=url, api_key=api_key, document_root=document_root, run=run
    )
    if run is None:
        run = AnnotationRun(key=key, backend=backend, url=url, document_root=document_root)
    elif run.url != url:
        # The same campaign on another server is another project there: start over on that server.
        run.url, run.project_id, run.watermark = url, None, None
    run.document_root = document_root
    return backend_class(run.backend)(url, api_key, document_root=document_root), run


def rounds_path(project, run: AnnotationRun):
    return project.root / ANNOTATION_DIR / "rounds" / f"{run.key}.json"


def load_rounds(project, run: AnnotationRun) -> list[dict]:
    """The campaign's rounds: ``round``, ``pushed``, ``closed`` and its planned ``tasks``."""
    path = rounds_path(project, run)
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text())["rounds"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GrewkitError(f"unreadable rounds record ({exc})", path=path) from None


def _save_rounds(project, run: AnnotationRun, rounds: list[dict], plan: dict | None = None) -> None:
    path = rounds_path(project, run)
    old = json.loads(path.read_text()) if path.is_file() else {}
    write_json(path, {"rounds": rounds, "plan": plan if plan is not None else old.get("plan")})


def _task_dict(task) -> dict:
    return {
        "key": task.key,
        "kind": task.kind,
        "query": task.query,
        "candidates": [[c, s] for c, s in task.candidates],
        "note": task.note,
        "avoid_annotators": list(task.avoid_annotators),
    }


def _planned(row: dict):
    from grewkit.annotate.rounds import PlannedTask

    return PlannedTask(
        row["key"],
        row["kind"],
        row["query"],
        tuple((c, float(s)) for c, s in row["candidates"]),
        row.get("note", ""),
        tuple(row.get("avoid_annotators", ())),
    )


def push(
    project, backend: AnnotationBackend, run: AnnotationRun, *, force: bool = False, show_progress: bool = True
) -> PushResult:
    """Push the campaign's current round: round 1 from the candidates manifest, later rounds as the
    last pull planned them. A round still open is pushed again as it is (same keys: nothing is
    duplicated), with a line saying so; a closed campaign pushes nothing."""
    from grewkit.annotate.candidates import method_name, neighbour_lists
    from grewkit.annotate.media import render_strips, write_placeholder
    from grewkit.annotate.rounds import first_round
    from grewkit.annotate.tasks import build_tasks

    settings = settings_of(project)
    if not project.has("candidates"):
        raise GrewkitError(
            "no candidates manifest: run `grewkit annotate candidates` first",
            path=project.manifests_dir / "candidates.parquet",
        )
    candidates = project.read("candidates")
    tracklets = project.read("tracklets")
    rounds = load_rounds(project, run)
    note = None
    if not rounds or (rounds[-1]["round"] == 1 and not rounds[-1]["closed"]):
        # Round 1 follows the candidates manifest while it is open, as a single push always did.
        neighbours = neighbour_lists(read_neighbours(project))
        planned = first_round(candidates, settings.k, mode=settings.first_round, neighbours=neighbours)
        rounds = [{"round": 1, "pushed": True, "closed": False, "tasks": [_task_dict(t) for t in planned]}]
    else:
        latest = rounds[-1]
        planned = [_planned(t) for t in latest["tasks"]]
        if latest["closed"]:
            note = f"the campaign is closed: round {latest['round']} was the last, nothing is left to ask"
            planned = []
        elif latest["pushed"]:
            note = (
                f"round {latest['round']} was already pushed and is still open: its {len(planned)} tasks are "
                "sent again as they are (no task is duplicated); answer them and pull before the next round"
            )
        latest["pushed"] = True
    needed = sorted({t.query for t in planned} | {c for t in planned for c, _ in t.candidates})
    with progress_bar("annotator media", total=len(needed), unit="tracklet", enabled=show_progress) as advance:
        strips = render_strips(
            project, needed, frames=settings.strip_frames, height=settings.strip_height, progress=advance
        )
    placeholder = write_placeholder(project.root, settings.strip_height)
    # Label Studio refuses a config that drops a control answers already use: slots never shrink.
    slots = (
        max(settings.k, run.k or 0, *(len(t.candidates) for t in planned)) if planned else max(settings.k, run.k or 0)
    )
    xml = render_config(slots)
    # Record the run before anything is sent, so an interrupted push resumes into the same project.
    run.project_id = backend.ensure_project(
        title=f"{project.settings.section('project').name} / {run.key}",
        config_xml=xml,
        media_dir=project.root / "media" / "annotation",
        project_id=run.project_id,
        annotators_per_task=settings.annotators_per_task,
    )
    run.k, run.config_hash = slots, config_hash(xml)
    run.save(project)
    tasks = build_tasks(
        planned=planned,
        tracklets=tracklets,
        strips=strips,
        placeholder=placeholder,
        media_url=lambda rel: backend.media_url(project.root / rel),
        k=settings.k,
        slots=slots,
        preselect_min_score=settings.preselect_min_score,
        method=method_name(settings),
    )
    with progress_bar("push tasks", total=len(tasks), unit="task", enabled=show_progress) as advance:
        result = backend.push_tasks(
            run.project_id, tasks, batch_size=settings.batch_size, force=force, progress=advance
        )
    _save_rounds(project, run, rounds)
    run.pushed = sum(len(r["tasks"]) for r in rounds if r["pushed"])
    run.log(
        project,
        "push",
        round=rounds[-1]["round"],
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        kept_annotated=result.kept_annotated,
        retries=result.retries,
    )
    if note:
        result = PushResult(**{**result.__dict__, "note": note})
    return result


def _round_open_keys(round_: dict, annotations: pa.Table, annotators_per_task: int) -> list[str]:
    """Keys of the round's tasks without enough answers (a skip closes a task; an adjudication needs
    one answer)."""
    count: Counter = Counter()
    skipped = set()
    for key, cancelled in zip(annotations["task_key"].to_pylist(), annotations["was_cancelled"].to_pylist()):
        count[key] += 1
        if cancelled:
            skipped.add(key)
    out = []
    for t in round_["tasks"]:
        need = 1 if t["kind"] == "adjudicate" else annotators_per_task
        if t["key"] not in skipped and count[t["key"]] < need:
            out.append(t["key"])
    return out


def plan_next(
    project,
    run: AnnotationRun,
    resolution,
    annotations: pa.Table,
    tracklets: pa.Table,
    timeline,
    scores,
    neighbours: dict[str, list[str]] | None = None,
) -> dict | None:
    """After a pull: close the current round when all its tasks are answered and plan the next one.
    ``tracklets``, ``timeline`` and ``scores`` (the candidates manifest's pair scores,
    ``rounds.candidate_scores``) are what the pull resolved with; ``neighbours``, the neighbours
    manifest's lists (``candidates.neighbour_lists``)."""
    from grewkit.annotate.rounds import plan_after

    settings = settings_of(project)
    rounds = load_rounds(project, run)
    if not rounds or resolution.state is None:
        return None
    latest = rounds[-1]
    if not latest["pushed"]:
        rounds.pop()  # planned from an older pull: plan again from this one
        latest = rounds[-1]
    open_keys = _round_open_keys(latest, annotations, settings.annotators_per_task)
    if open_keys:
        summary = {"round": latest["round"], "open_tasks": len(open_keys), "open_example": open_keys[0]}
        _save_rounds(project, run, rounds, {**summary, "closed": False})
        return summary
    latest["closed"] = True
    answered = set(annotations.filter(pc.invert(annotations["was_cancelled"]))["task_key"].to_pylist())
    state = resolution.state
    info = {r["tracklet_id"]: r for r in tracklets.to_pylist()}
    plan = plan_after(
        rounds,
        state=state,
        scores=scores,
        info=info,
        timeline=timeline,
        settings=settings,
        answered=answered,
        neighbours=neighbours,
    )
    if plan.tasks:
        rounds.append(
            {"round": plan.round, "pushed": False, "closed": False, "tasks": [_task_dict(t) for t in plan.tasks]}
        )
    summary = plan.summary()
    summary["unaudited_tracklets"] = plan.unaudited
    summary["undecided_audit_tracklets"] = plan.undecided_audits
    summary["twin_tracklets"] = plan.twins
    _save_rounds(project, run, rounds, summary)
    return summary


def mark_audits(identities: pa.Table, plan: dict | None) -> pa.Table:
    """The resolved ``identities`` with what the round ``plan`` (``plan_next``'s summary) says of
    single-camera groups: not audited yet (``grewkit split`` refuses them as distractors unless told
    otherwise), or audited the most times without ruling out a benchmark identity (held out)."""
    if not plan:
        return identities
    unaudited = set(plan.get("unaudited_tracklets") or ())
    undecided = set(plan.get("undecided_audit_tracklets") or ())
    twins = set(plan.get("twin_tracklets") or ())
    if not unaudited and not undecided and not twins:
        return identities
    status, reason = [], []
    for t, s, r in zip(
        identities["tracklet_id"].to_pylist(), identities["status"].to_pylist(), identities["reason"].to_pylist()
    ):
        if s == "resolved" and t in twins:
            s, r = "held_out", TWIN
        elif s == "resolved" and t in undecided:
            s, r = "held_out", AUDIT_UNDECIDED
        elif s == "resolved" and t in unaudited:
            r = UNAUDITED
        status.append(s)
        reason.append(r)
    for name, values in (("status", status), ("reason", reason)):
        identities = identities.set_column(identities.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return identities


@dataclass(frozen=True)
class PullSummary:
    fetched: int
    new_or_changed: int
    deleted: int
    report: dict

    def line(self) -> str:
        r = self.report
        return (
            f"{self.fetched} annotations fetched, {self.new_or_changed} new or changed since the last pull, "
            f"{self.deleted} deleted there; {r['identities']} identities over {r['resolved_tracklets']} tracklets, "
            f"{counted(r['held_out_tracklets'], 'tracklet')} held out, {counted(len(r['conflicts']), 'conflict')}"
            + _round_line(r.get("round"))
        )


def _round_line(plan: dict | None) -> str:
    if not plan:
        return ""
    if plan.get("open_tasks"):
        return f"; round {plan['round']} still has {counted(plan['open_tasks'], 'open task')} (e.g. {plan['open_example']})"
    if plan.get("closed"):
        return f"; closed after round {plan['round'] - 1}: nothing is left to ask"
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(plan["tasks_by_kind"].items()))
    return (
        f"; round {plan['round']} planned: {counted(plan['tasks'], 'task')} ({kinds}), {counted(plan['questions'], 'question')} "
        "(`grewkit annotate push` sends it)"
    )


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def pull(project, backend: AnnotationBackend, run: AnnotationRun, *, full: bool = False) -> PullSummary:
    """Fetch what changed since the run's watermark (everything on the first pull or with ``full``),
    merge it into the annotations manifest, then resolve identities and attributes from all of it."""
    from grewkit.annotate.candidates import kept_tracklets, neighbour_lists, neighbour_scores
    from grewkit.annotate.resolve import resolve
    from grewkit.annotate.rounds import candidate_scores
    from grewkit.annotate.timeline import Timeline

    if run.project_id is None:
        raise GrewkitError(f"campaign {run.key!r} has not been pushed yet: run `grewkit annotate push`")
    watermark = datetime.fromisoformat(run.watermark) if run.watermark else None
    have_manifest = project.has("annotations")
    since = None if (full or watermark is None or not have_manifest) else watermark
    fetched = backend.pull(run.project_id, since=since)
    remote = fetched.annotations
    prefix = backend.annotation_prefix
    stored = {row["annotation_id"]: row for row in project.read("annotations").to_pylist()} if have_manifest else {}
    remote_ids = {a.annotation_id for a in remote}
    # Annotations of this server gone from the tasks we now see in full were deleted there.
    deleted = [
        k
        for k, row in stored.items()
        if k.startswith(prefix) and k not in remote_ids and (fetched.complete or row["task_id"] in fetched.task_ids)
    ]
    for k in deleted:
        del stored[k]
    changed = 0
    for a in remote:
        old = stored.get(a.annotation_id)
        if old is not None and old["updated_at"] >= a.updated_at:
            if old.get("lead_time_s") is None and a.lead_time_s is not None:
                old["lead_time_s"] = a.lead_time_s  # a manifest from before lead times were kept
            continue  # unchanged since the last pull
        changed += 1
        stored[a.annotation_id] = {
            "annotation_id": a.annotation_id,
            "task_key": a.task_key,
            "task_id": a.task_id,
            "query_tracklet_id": a.task_data.get("query_id", a.task_key),
            "annotator": a.annotator,
            "created_at": a.created_at,
            "updated_at": a.updated_at,
            "was_cancelled": a.was_cancelled,
            "result_json": json.dumps(a.result, sort_keys=True),
            "task_data_json": json.dumps(a.task_data, sort_keys=True),
            "lead_time_s": a.lead_time_s,
        }
    kept_old = stored
    from grewkit.core.schemas import get_schema

    schema = get_schema("annotations")
    rows = list(kept_old.values())
    table = pa.Table.from_pylist(rows, schema=schema.arrow) if rows else schema.empty_table()
    project.write("annotations", table)
    if remote:
        newest = max(a.updated_at for a in remote)
        run.watermark = _ts(max(newest, watermark) if watermark else newest)
    tracklets = project.read("tracklets")
    timeline = Timeline.of_project(project, kept_tracklets(project))
    scores = candidate_scores(project.read("candidates")) if project.has("candidates") else {}
    pieces = read_neighbours(project) if project.has("candidates") else None
    near = neighbour_scores(pieces) if pieces is not None else {}
    resolution = resolve(
        table, tracklets, timeline=timeline, scores=scores, neighbour_scores=near, **settings_of(project).link_options()
    )
    lists = neighbour_lists(pieces) if pieces is not None else {}
    plan = plan_next(project, run, resolution, table, tracklets, timeline, scores, neighbours=lists)
    resolution.report["round"] = plan
    identities = mark_audits(resolution.identities, plan)
    _write_merged(project, "identities", identities, key="tracklet_id")
    _write_merged(project, "attributes", resolution.attributes, key=None)
    write_json(project.root / ANNOTATION_DIR / "reports" / f"{run.key}.json", resolution.report)
    run.log(
        project,
        "pull",
        incremental=not fetched.complete,
        fetched=len(remote),
        changed=changed,
        deleted=len(deleted),
        conflicts=len(resolution.report["conflicts"]),
    )
    return PullSummary(len(remote), changed, len(deleted), resolution.report)


def _write_merged(project, name: str, annotated: pa.Table, *, key: str | None) -> None:
    """Replace the rows that came from annotation; keep rows from other sources (import, ground truth)."""
    if project.has(name):
        old = project.read(name)
        others = old.filter(pc.not_equal(old.column("source"), "annotation"))
        if key is not None and others.num_rows and annotated.num_rows:
            others = others.filter(pc.invert(pc.is_in(others.column(key), value_set=annotated.column(key))))
        if others.num_rows:
            from grewkit.core.schemas import conform, get_schema

            schema = get_schema(name)
            annotated = pa.concat_tables([conform(others, schema), conform(annotated, schema)])
    project.write(name, annotated)


def status(project, backend: AnnotationBackend | None, run: AnnotationRun | None) -> dict:
    out: dict = {"campaign": run.key if run else settings_of(project).campaign}
    if run is None:
        out["state"] = "not pushed"
        return out
    out.update(
        {"server": run.url, "project_id": run.project_id, "pushed": run.pushed, "last_pull_watermark": run.watermark}
    )
    if backend is not None and run.project_id is not None:
        out.update(backend.summary(run.project_id))
    report_path = project.root / ANNOTATION_DIR / "reports" / f"{run.key}.json"
    if report_path.is_file():
        report = json.loads(report_path.read_text())
        out["conflicting"] = len(report["conflicts"])
        out["conflict_counts"] = report["conflict_counts"]
        out["held_out_tracklets"] = report["held_out_tracklets"]
        out["skipped_tasks_at_last_pull"] = report["skipped_tasks"]
        out["identities"] = report["identities"]
        if report.get("rejected_answers"):
            out["rejected_answers"] = len(report["rejected_answers"])
    if project.has("annotations"):
        # What the answers cost, from the server's lead times (None where it recorded none).
        from grewkit.annotate.timing import time_figures

        released = None
        if project.has("splits"):
            splits = project.read("splits", ["split"])["split"].to_pylist()
            released = sum(s in ("train", "val", "test") for s in splits)
        out["time"] = time_figures(project.read("annotations"), released)
    rounds = load_rounds(project, run)
    if rounds:
        path = rounds_path(project, run)
        plan = json.loads(path.read_text()).get("plan") or {}
        latest = rounds[-1]
        out["round"] = latest["round"]
        out["round_state"] = "closed" if latest["closed"] else ("pushed" if latest["pushed"] else "planned")
        if plan.get("open_tasks"):
            out["open_tasks"] = plan["open_tasks"]
        elif plan.get("closed"):
            out["estimate_left"] = f"nothing: the campaign closed after round {latest['round']}"
            if plan.get("given_up"):
                out["given_up"] = plan["given_up"]
            if plan.get("undecided_audits"):
                out["held_out_undecided_audits"] = plan["undecided_audits"]
            if plan.get("twins"):
                out["held_out_twins"] = plan["twins"]
        elif plan:
            lists = ("unaudited_tracklets", "undecided_audit_tracklets", "twin_tracklets")
            out["next_round"] = {k: v for k, v in plan.items() if k not in lists}
            # What is left: at least the planned questions; each open group pair may need one more.
            out["estimate_left"] = (
                f"{plan.get('questions', 0)} questions in {plan.get('tasks', 0)} tasks next; "
                f"{plan.get('undecided_group_pairs', 0)} group pairs undecided, "
                f"{plan.get('held_groups', 0)} contradictions, {plan.get('unaudited_groups', 0)} single-camera "
                "groups to audit"
            )
    return out
