"""The steps of a labelling campaign, as functions the commands (and tests) call.

candidates -> push (media, project, tasks) -> annotators work -> pull (raw annotations,
then identities and attributes) -> status. Each step is idempotent and resumable.
"""

from __future__ import annotations

import json
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


def settings_of(project):
    return project.settings.section("annotate")


def compute_candidates(project, *, show_progress: bool = True) -> pa.Table:
    from grewkit.annotate.candidates import rank_candidates

    settings = settings_of(project)

    def factory(label, total):
        return progress_bar(label, total=total, unit="tracklet", enabled=show_progress)

    table = rank_candidates(project, settings, progress_factory=factory)
    project.write("candidates", table)
    return table


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


def push(
    project, backend: AnnotationBackend, run: AnnotationRun, *, force: bool = False, show_progress: bool = True
) -> PushResult:
    from grewkit.annotate.media import render_strips, write_placeholder
    from grewkit.annotate.tasks import build_tasks

    settings = settings_of(project)
    if not project.has("candidates"):
        raise GrewkitError(
            "no candidates manifest: run `grewkit annotate candidates` first",
            path=project.manifests_dir / "candidates.parquet",
        )
    candidates = project.read("candidates")
    tracklets = project.read("tracklets")
    needed = sorted(
        set(candidates.column("query_tracklet_id").to_pylist())
        | set(candidates.column("candidate_tracklet_id").to_pylist())
    )
    with progress_bar("annotator media", total=len(needed), unit="tracklet", enabled=show_progress) as advance:
        strips = render_strips(
            project, needed, frames=settings.strip_frames, height=settings.strip_height, progress=advance
        )
    placeholder = write_placeholder(project.root, settings.strip_height)
    # Label Studio refuses a config that drops a control answers already use: slots never shrink.
    slots = max(settings.k, run.k or 0)
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
        candidates=candidates,
        tracklets=tracklets,
        strips=strips,
        placeholder=placeholder,
        media_url=lambda rel: backend.media_url(project.root / rel),
        k=settings.k,
        slots=slots,
        preselect_min_score=settings.preselect_min_score,
    )
    with progress_bar("push tasks", total=len(tasks), unit="task", enabled=show_progress) as advance:
        result = backend.push_tasks(
            run.project_id, tasks, batch_size=settings.batch_size, force=force, progress=advance
        )
    run.pushed = len(tasks)
    run.log(
        project,
        "push",
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        kept_annotated=result.kept_annotated,
        retries=result.retries,
    )
    return result


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
            f"{r['held_out_tracklets']} tracklets held out, {len(r['conflicts'])} conflicts"
        )


def _ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def pull(project, backend: AnnotationBackend, run: AnnotationRun, *, full: bool = False) -> PullSummary:
    """Fetch what changed since the run's watermark (everything on the first pull or with ``full``),
    merge it into the annotations manifest, then resolve identities and attributes from all of it."""
    from grewkit.annotate.candidates import _time_spans, kept_tracklets
    from grewkit.annotate.resolve import resolve

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
    spans = _time_spans(project, kept_tracklets(project))
    resolution = resolve(table, tracklets, time_spans=spans)
    _write_merged(project, "identities", resolution.identities, key="tracklet_id")
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
    return out
