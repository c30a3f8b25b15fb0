"""The Label Studio backend and the lookup of the Label Studio server's launcher.

It talks to the server through the official ``label-studio-sdk`` (installed ``--no-deps``: it
pins a second OpenCV distribution; its real needs are in pyproject.toml). Where the SDK is wrong
(its export ``ids`` filter), ``LabelStudioBackend.export`` works around it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grewkit.annotate.backends.base import (
    AnnotationBackend,
    PullResult,
    PushResult,
    RemoteAnnotation,
    ServerUnavailable,
    TaskSpec,
)
from grewkit.core.errors import GrewkitError


def label_studio_executable() -> Path | None:
    """The Label Studio launcher: its own venv from ``make label-studio``, or one on PATH."""
    env = os.environ.get("GREWKIT_LABEL_STUDIO")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / ".venv-label-studio" / "bin" / "label-studio")
    found = shutil.which("label-studio")
    if found:
        candidates.append(Path(found))
    return next((c for c in candidates if c.is_file()), None)


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.fromtimestamp(0, UTC)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _seconds(value: Any) -> float | None:
    """The labelling page's ``lead_time`` (seconds from opening the task to submitting, summed over
    edits); absent, negative or not a number when a client posted none or nonsense."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _detail(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text[:300].replace("\n", " ")


class LabelStudioClient:
    """Label Studio's official SDK client (``label-studio-sdk``), set up the way grewkit needs it.

    ``sdk`` is the SDK's client: every call to the server goes through it (``call`` turns its
    errors into one-line ``GrewkitError``s that name the call). It accepts a legacy token or a
    personal access token (a JWT refresh token): the SDK tells them apart and exchanges the PAT
    for short-lived access tokens at ``/api/token/refresh/``, again before each one expires.
    The token is never put in a message.

    It is the SDK's generated ``LabelStudioBase`` (the same projects, tasks, predictions,
    import-storage and export APIs as ``label_studio_sdk.LabelStudio``): ``LabelStudio`` only
    adds label-config and export-polling helpers whose imports (lxml, xmljson, jsf with faker
    and smart-open, pandas) grewkit would otherwise have to install and never use.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float = 300.0):
        if not api_key:
            raise GrewkitError(
                "no Label Studio API key: pass --api-key, set GREWKIT_LABEL_STUDIO_API_KEY, "
                "or start the server with `grewkit annotate serve`"
            )
        from label_studio_sdk.base_client import LabelStudioBase
        from label_studio_sdk.core.api_error import ApiError

        self.url = url.rstrip("/")
        try:
            # max_retries=0: the SDK re-sends any request after a 5xx or a dropped connection, and a
            # re-sent import whose first try the server had committed would create every task twice.
            # push_tasks asks the server what landed instead.
            # The trailing "/": the SDK refreshes a PAT at urljoin(base_url, "api/token/refresh/"), which
            # drops the last path segment of a server behind a prefix (https://lab.org/ls) without it.
            self.sdk = LabelStudioBase(base_url=self.url + "/", api_key=api_key, timeout=timeout, max_retries=0)
        except ApiError as exc:  # an expired or malformed personal access token is refused here
            raise GrewkitError(
                f"{self.url}: the API key was refused (HTTP {exc.status_code}: {_detail(exc.body)})"
            ) from None

    def __repr__(self) -> str:
        return f"LabelStudioClient(url={self.url!r})"

    def call(self, what: str, fn: Callable[..., Any], *args, missing_ok: bool = False, **kwargs) -> Any:
        """``fn(*args, **kwargs)`` (an SDK method); None for HTTP 404 when ``missing_ok``."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            status = exc.status_code
            if status == 404 and missing_ok:
                return None
            if status is None or status >= 500:
                raise ServerUnavailable(f"Label Studio {what}: server error HTTP {status}") from None
            raise GrewkitError(f"Label Studio {what}: HTTP {status}: {_detail(exc.body)}") from None
        except httpx.TransportError as exc:
            raise ServerUnavailable(f"Label Studio {what}: cannot reach {self.url} ({type(exc).__name__})") from None

    def pages(self, what: str, list_method: Callable[..., Any], *, page_size: int, **kwargs):
        """Yield every item of a paginated SDK list, page by page.

        The SDK's own pager asks for one page past the last, which Label Studio answers with 404;
        the page's ``total`` tells when to stop.
        """
        page = 1
        while True:
            pager = self.call(what, list_method, page=page, page_size=page_size, missing_ok=True, **kwargs)
            items = (pager.items or []) if pager is not None else []
            yield from items
            total = getattr(pager.response, "total", None) if pager is not None else None
            if total is None:
                total = getattr(pager.response, "count", 0) if pager is not None else 0
            if not items or page * page_size >= (total or 0):
                return
            page += 1

    def wait_until_up(self, timeout: float = 180.0) -> None:
        from grewkit.annotate.server import health

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if health(self.url):
                return
            time.sleep(1.0)
        raise ServerUnavailable(f"{self.url} did not come back within {timeout:.0f} s")


PROJECT_PREFIX = "grewkit: "
# Label Studio refuses a project title longer than this (its PROJECT_TITLE_MAX_LEN) with a bare HTTP 400.
TITLE_MAX = 50


def project_title(name: str) -> str:
    """The Label Studio title of a grewkit project: ``grewkit: NAME``, shortened to fit the server.

    A title that is too long keeps its start and its end (the campaign, after " / ") around an
    ellipsis, with a digest of the full title so that two long names stay two projects; the
    same name always gives the same title, so a rerun finds its project again.
    """
    title = PROJECT_PREFIX + name
    if len(title) <= TITLE_MAX:
        return title
    suffix = " ~" + hashlib.sha1(title.encode()).hexdigest()[:6]
    room = TITLE_MAX - len(suffix) - 1  # one character for the ellipsis
    tail = min(24, room - len(PROJECT_PREFIX) - 8)
    return title[: room - tail] + "\u2026" + title[len(title) - tail :] + suffix


class LabelStudioBackend(AnnotationBackend):
    def __init__(
        self, url: str, api_key: str, *, document_root: str | Path | None = None, reconnect_timeout: float = 180.0
    ):
        self.client = LabelStudioClient(url, api_key)
        self.sdk = self.client.sdk
        self.document_root = Path(document_root).resolve() if document_root else None
        self.reconnect_timeout = reconnect_timeout
        self._users: dict[int, str] | None = None

    @property
    def annotation_prefix(self) -> str:
        return f"{self.client.url}#"

    # -- media -------------------------------------------------------------------------------
    def media_url(self, path: Path) -> str:
        """The URL under which Label Studio serves a local file (it must lie inside the document root)."""
        if self.document_root is None:
            raise GrewkitError("the server's local-files document root is unknown: pass --document-root")
        try:
            rel = Path(path).resolve().relative_to(self.document_root)
        except ValueError:
            raise GrewkitError(
                f"media lies outside the server's local-files document root {self.document_root}", path=path
            ) from None
        return f"/data/local-files/?d={rel.as_posix()}"

    # -- projects ----------------------------------------------------------------------------
    def find_project(self, title: str) -> int | None:
        for row in self.client.pages("list projects", self.sdk.projects.list, page_size=100, title=title):
            if row.title == title:
                return int(row.id)
        return None

    def ensure_project(self, *, title, config_xml, media_dir=None, project_id=None, annotators_per_task=1):
        title = project_title(title)
        current = None
        if project_id is not None:
            current = self.client.call(f"get project {project_id}", self.sdk.projects.get, project_id, missing_ok=True)
            if current is None or current.title != title:
                project_id, current = None, None
        if project_id is None:
            # A crash between creating the project and recording its id must not make a second one.
            project_id = self.find_project(title)
        if project_id is None:
            created = self.client.call(
                "create project",
                self.sdk.projects.create,
                title=title,
                label_config=config_xml,
                show_skip_button=True,
                description="Cross-camera identity linking made by grewkit.",
                maximum_annotations=annotators_per_task,
                sampling="Sequential sampling",
            )
            project_id = int(created.id)
        else:
            if current is None:
                current = self.client.call(f"get project {project_id}", self.sdk.projects.get, project_id)
            changes = {}
            if (current.label_config or "").strip() != config_xml.strip():
                changes["label_config"] = config_xml
            if current.maximum_annotations != annotators_per_task:
                changes["maximum_annotations"] = annotators_per_task
            if changes:
                self.client.call(f"update project {project_id}", self.sdk.projects.update, project_id, **changes)
        if media_dir is not None:
            self.ensure_local_storage(project_id, Path(media_dir))
        return project_id

    def ensure_local_storage(self, project_id: int, media_dir: Path) -> None:
        """Label Studio serves a local file only to projects with a local-files storage covering it."""
        path = str(Path(media_dir).resolve())
        local = self.sdk.import_storage.local
        existing = self.client.call("list local-files storages", local.list, project=project_id)
        if any(s.path == path for s in existing or []):
            return
        self.client.call(
            "create local-files storage",
            local.create,
            project=project_id,
            path=path,
            title="grewkit media",
            use_blob_urls=True,
            regex_filter=r".*\.jpg$",
        )

    # -- tasks -------------------------------------------------------------------------------
    def existing_tasks(self, project_id: int) -> dict[str, dict]:
        """key -> {id, digest, annotated} for every grewkit task on the server, read page by page."""
        out: dict[str, dict] = {}
        for task in self.client.pages(
            "list tasks",
            self.sdk.tasks.list,
            page_size=1000,
            project=project_id,
            fields="task_only",
            include="id,data,total_annotations,cancelled_annotations",
        ):
            data = task.data or {}
            key = data.get("grewkit_key")
            if key is None:
                continue
            annotated = (task.total_annotations or 0) + (task.cancelled_annotations or 0) > 0
            if key in out:
                # Never expected (keys are checked before every import); keep the oldest and report.
                out[key].setdefault("duplicates", []).append(int(task.id))
                continue
            out[key] = {"id": int(task.id), "digest": data.get("grewkit_digest"), "annotated": annotated}
        return out

    @staticmethod
    def _payload(task: TaskSpec) -> dict:
        data = dict(task.data, grewkit_key=task.key, grewkit_digest=task.digest)
        return {"data": data, "predictions": task.predictions}

    def import_batch(self, project_id: int, payloads: list[dict]) -> None:
        self.client.call(
            f"import into project {project_id}",
            self.sdk.projects.import_tasks,
            project_id,
            request=payloads,
            commit_to_project=True,
            return_task_ids=False,
        )

    def push_tasks(self, project_id, tasks, *, batch_size, force=False, progress=lambda n=1: None):
        keys = [t.key for t in tasks]
        if len(set(keys)) != len(keys):
            raise GrewkitError("two tasks share a key; task keys must be unique within a push")
        existing = self.existing_tasks(project_id)
        created = updated = unchanged = kept = retries = 0
        new: list[TaskSpec] = []
        for task in tasks:
            have = existing.get(task.key)
            if have is None:
                new.append(task)
            elif have["digest"] == task.digest:
                unchanged += 1
                progress(1)
            elif have["annotated"] and not force:
                # Candidates of an answered task changed: replacing them would orphan the answers.
                kept += 1
                progress(1)
            else:
                self._update_task(have["id"], task)
                updated += 1
                progress(1)
        pending = new
        while pending:
            batch = pending[:batch_size]
            try:
                self.import_batch(project_id, [self._payload(t) for t in batch])
            except ServerUnavailable:
                # The batch may or may not have been committed: wait for the server, then ask it.
                retries += 1
                if retries > 5:
                    raise
                self.client.wait_until_up(self.reconnect_timeout)
                existing = self.existing_tasks(project_id)
                landed = sum(t.key in existing for t in batch)
                created += landed
                progress(landed)
                pending = [t for t in pending if t.key not in existing]
                continue
            created += len(batch)
            progress(len(batch))
            pending = pending[batch_size:]
        return PushResult(created, updated, unchanged, kept, retries)

    def _update_task(self, task_id: int, task: TaskSpec) -> None:
        payload = self._payload(task)
        self.client.call(f"update task {task_id}", self.sdk.tasks.update, str(task_id), data=payload["data"])
        old = self.client.call(f"list predictions of task {task_id}", self.sdk.predictions.list, task=task_id)
        for prediction in old or []:
            self.client.call(f"delete prediction {prediction.id}", self.sdk.predictions.delete, prediction.id)
        for prediction in task.predictions:
            self.client.call(
                f"create prediction for task {task_id}",
                self.sdk.predictions.create,
                task=task_id,
                result=prediction["result"],
                score=prediction.get("score"),
                model_version=prediction.get("model_version"),
            )

    # -- annotations -------------------------------------------------------------------------
    def users(self) -> dict[int, str]:
        if self._users is None:
            rows = self.client.call("list users", self.sdk.users.list)
            self._users = {int(u.id): u.email or u.username or str(u.id) for u in rows}
        return self._users

    def export(self, project_id: int, task_ids: list[int] | None = None) -> list[dict]:
        """The project's tasks with their annotations (JSON export); only ``task_ids`` when given."""
        exports = self.sdk.projects.exports

        def download(params: dict) -> list[dict]:
            # The export arrives as a byte stream; it is parsed once, whole, as the server sends one document.
            chunks = exports.download_sync(
                project_id,
                download_all_tasks=True,
                export_type="JSON",
                request_options={"additional_query_parameters": params, "chunk_size": 1 << 20},
            )
            return json.loads(b"".join(chunks))

        if task_ids is None:
            return self.client.call(f"export project {project_id}", download, {})
        out = []
        for start in range(0, len(task_ids), 200):
            # SDK bug worked around here (label-studio-sdk 2.1.2): download_sync(ids=...) sends ``ids=``,
            # the server reads only ``ids[]=`` and silently exports every task; so the filter goes in as
            # an extra query parameter under the name the server reads.
            out += self.client.call(
                f"export tasks of project {project_id}", download, {"ids[]": task_ids[start : start + 200]}
            )
        return out

    def changed_task_ids(self, project_id: int, since: datetime) -> list[int]:
        """Tasks whose ``updated_at`` is after ``since``: creating, editing, skipping or deleting an
        annotation touches its task (an edit leaves the annotation's ``completed_at`` as it was)."""
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        query = json.dumps(
            {
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": stamp}
                    ],
                }
            }
        )
        return [
            int(t.id)
            for t in self.client.pages(
                "list changed tasks",
                self.sdk.tasks.list,
                page_size=1000,
                project=project_id,
                fields="task_only",
                query=query,
                include="id",
            )
        ]

    def pull(self, project_id, *, since=None):
        if since is None:
            tasks = self.export(project_id)
        else:
            # A margin for annotations saved in the same instant as the last pull's newest one.
            changed = self.changed_task_ids(project_id, since - timedelta(seconds=2))
            tasks = self.export(project_id, changed) if changed else []
        users = self.users()
        out = []
        for task in tasks:
            data = task.get("data") or {}
            key = data.get("grewkit_key")
            if key is None:
                continue
            for ann in task.get("annotations") or []:
                who = ann.get("completed_by")
                if isinstance(who, dict):
                    annotator = who.get("email") or str(who.get("id"))
                else:
                    annotator = users.get(int(who), str(who)) if who is not None else "unknown"
                out.append(
                    RemoteAnnotation(
                        annotation_id=f"{self.annotation_prefix}{ann['id']}",
                        task_key=key,
                        task_id=int(task["id"]),
                        annotator=annotator,
                        created_at=_parse_time(ann.get("created_at")),
                        updated_at=_parse_time(ann.get("updated_at") or ann.get("created_at")),
                        was_cancelled=bool(ann.get("was_cancelled")),
                        result=ann.get("result") or [],
                        task_data=data,
                        lead_time_s=_seconds(ann.get("lead_time")),
                    )
                )
        return PullResult(out, {int(t["id"]) for t in tasks}, complete=since is None)

    def summary(self, project_id):
        doc = self.client.call(f"get project {project_id}", self.sdk.projects.get, project_id)
        return {
            "tasks": int(doc.task_number or 0),
            "done": int(doc.num_tasks_with_annotations or 0),
            "skipped": int(doc.skipped_annotations_number or 0),
            "annotations": int(doc.total_annotations_number or 0),
        }
