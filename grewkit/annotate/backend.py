"""Annotation backends: where tasks go and where annotations come back from.

The interface follows fiftyone's annotation backends: a backend declares what it supports
(``Capabilities``), and the toolkit talks to it only through ``ensure_project``, ``push_tasks``,
``pull`` and ``summary``, so another tool (CVAT, a lab's own web app) can replace Label Studio
by adding one class and one line in ``BACKENDS``.

The Label Studio backend speaks the server's REST API over plain HTTP (``requests``): the
official SDK pins a second OpenCV distribution and its export filter sends ``ids=`` where the
server reads ``ids[]=`` (it silently exports everything); the few endpoints needed are stable.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar

import requests

from grewkit.core.errors import GrewkitError


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; commands check these instead of the backend's name."""

    predictions: bool = False
    incremental_pull: bool = False
    skips: bool = False
    multiple_annotators: bool = False
    media: tuple[str, ...] = ("image",)


@dataclass(frozen=True)
class TaskSpec:
    """One task as grewkit wants it on the server; ``key`` is stable across pushes."""

    key: str
    data: dict[str, Any]
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        text = json.dumps({"data": self.data, "predictions": self.predictions}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PushResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_annotated: int = 0
    retries: int = 0

    def line(self) -> str:
        return (f"{self.created} tasks created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.kept_annotated} changed but kept (already annotated; --force to replace)"
                + (f", {self.retries} batch retries after server errors" if self.retries else ""))


@dataclass(frozen=True)
class RemoteAnnotation:
    annotation_id: str
    task_key: str
    task_id: int
    annotator: str
    created_at: datetime
    updated_at: datetime
    was_cancelled: bool
    result: list
    task_data: dict


@dataclass(frozen=True)
class PullResult:
    """``task_ids``: the tasks whose annotations are all in ``annotations`` (every task on a full pull)."""

    annotations: list[RemoteAnnotation]
    task_ids: set[int]
    complete: bool = True


class AnnotationBackend(ABC):
    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    @abstractmethod
    def ensure_project(self, *, title: str, config_xml: str, media_dir: Path | None,
                       project_id: int | None = None, annotators_per_task: int = 1) -> int:
        """Create the project (or find the one with this title/id) and bring its config up to date."""

    @abstractmethod
    def push_tasks(self, project_id: int, tasks: list[TaskSpec], *, batch_size: int, force: bool = False,
                   progress: Callable[[int], None] = lambda n=1: None) -> PushResult:
        """Create new tasks, update changed ones in place; never duplicate a key."""

    @abstractmethod
    def pull(self, project_id: int, *, since: datetime | None = None) -> PullResult:
        """Every annotation (skips included) of the tasks changed after ``since`` (all tasks when None),
        with its task's key and data."""

    @abstractmethod
    def summary(self, project_id: int) -> dict[str, int]:
        """Counts: tasks, done (annotated), skipped (only skips), annotations."""

    @property
    def annotation_prefix(self) -> str:
        """What this backend's annotation ids start with (ids are unique across servers)."""
        return ""


def _parse_time(text: str | None) -> datetime:
    if not text:
        return datetime.fromtimestamp(0, timezone.utc)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class ServerUnavailable(GrewkitError):
    pass


class LabelStudioClient:
    """A thin REST session: authentication, retries on restarts, errors that name the endpoint.

    Accepts a legacy token or a personal access token (a JWT refresh token, exchanged at
    ``/api/token/refresh/`` for short-lived access tokens). The token is never put in a message.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float = 300.0):
        if not api_key:
            raise GrewkitError("no Label Studio API key: pass --api-key, set GREWKIT_LABEL_STUDIO_API_KEY, "
                               "or start the server with `grewkit annotate serve`")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._key = api_key
        self._jwt = api_key.count(".") == 2
        self.session = requests.Session()
        self._authorise()

    def __repr__(self) -> str:
        return f"LabelStudioClient(url={self.url!r})"

    def _authorise(self) -> None:
        if not self._jwt:
            self.session.headers["Authorization"] = f"Token {self._key}"
            return
        response = self.session.post(f"{self.url}/api/token/refresh/", json={"refresh": self._key}, timeout=30)
        if response.status_code != 200:
            raise GrewkitError(f"{self.url}: the personal access token was refused (HTTP {response.status_code})")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access']}"

    def request(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201, 204), **kwargs) -> Any:
        url = f"{self.url}{path}"
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            if response.status_code == 401 and self._jwt:  # access tokens expire after minutes
                self._authorise()
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise ServerUnavailable(f"{method} {path}: cannot reach {self.url} ({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise ServerUnavailable(f"{method} {path}: server error HTTP {response.status_code}")
        if response.status_code not in expect:
            detail = response.text[:300].replace("\n", " ")
            raise GrewkitError(f"Label Studio {method} {path}: HTTP {response.status_code}: {detail}")
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def wait_until_up(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.session.get(f"{self.url}/health", timeout=3).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(1.0)
        raise ServerUnavailable(f"{self.url} did not come back within {timeout:.0f} s")


PROJECT_PREFIX = "grewkit: "


class LabelStudioBackend(AnnotationBackend):
    name = "labelstudio"
    capabilities = Capabilities(predictions=True, incremental_pull=True, skips=True, multiple_annotators=True,
                                media=("image",))

    def __init__(self, url: str, api_key: str, *, document_root: str | Path | None = None,
                 reconnect_timeout: float = 180.0):
        self.client = LabelStudioClient(url, api_key)
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
            raise GrewkitError(f"media lies outside the server's local-files document root {self.document_root}",
                               path=path) from None
        return f"/data/local-files/?d={rel.as_posix()}"

    # -- projects ----------------------------------------------------------------------------
    def find_project(self, title: str) -> int | None:
        page = 1
        while True:
            doc = self.client.request("GET", "/api/projects/", params={"page": page, "page_size": 100,
                                                                        "title": title})
            rows = doc["results"] if isinstance(doc, dict) else doc
            for row in rows:
                if row.get("title") == title:
                    return int(row["id"])
            if not isinstance(doc, dict) or not doc.get("next"):
                return None
            page += 1

    def ensure_project(self, *, title, config_xml, media_dir=None, project_id=None, annotators_per_task=1):
        title = PROJECT_PREFIX + title
        if project_id is not None:
            try:
                current = self.client.request("GET", f"/api/projects/{project_id}/")
            except GrewkitError as exc:
                if "HTTP 404" not in str(exc):
                    raise
                current = None
            if current is None or current.get("title") != title:
                project_id = None
        if project_id is None:
            # A crash between creating the project and recording its id must not make a second one.
            project_id = self.find_project(title)
        if project_id is None:
            doc = self.client.request("POST", "/api/projects/", json={
                "title": title, "label_config": config_xml, "show_skip_button": True,
                "description": "Cross-camera identity linking made by grewkit.",
                "maximum_annotations": annotators_per_task, "sampling": "Sequential sampling"})
            project_id = int(doc["id"])
        else:
            current = self.client.request("GET", f"/api/projects/{project_id}/")
            changes = {}
            if current.get("label_config", "").strip() != config_xml.strip():
                changes["label_config"] = config_xml
            if current.get("maximum_annotations") != annotators_per_task:
                changes["maximum_annotations"] = annotators_per_task
            if changes:
                self.client.request("PATCH", f"/api/projects/{project_id}/", json=changes)
        if media_dir is not None:
            self.ensure_local_storage(project_id, Path(media_dir))
        return project_id

    def ensure_local_storage(self, project_id: int, media_dir: Path) -> None:
        """Label Studio serves a local file only to projects with a local-files storage covering it."""
        path = str(Path(media_dir).resolve())
        existing = self.client.request("GET", "/api/storages/localfiles/", params={"project": project_id})
        if any(s.get("path") == path for s in existing):
            return
        self.client.request("POST", "/api/storages/localfiles/", json={
            "project": project_id, "path": path, "title": "grewkit media", "use_blob_urls": True,
            "regex_filter": r".*\.jpg$"})

    # -- tasks -------------------------------------------------------------------------------
    def existing_tasks(self, project_id: int) -> dict[str, dict]:
        """key -> {id, digest, annotated} for every grewkit task on the server, read page by page."""
        out: dict[str, dict] = {}
        page = 1
        while True:
            try:
                doc = self.client.request("GET", "/api/tasks/", params={
                    "project": project_id, "page": page, "page_size": 1000, "fields": "task_only",
                    "include": "id,data,total_annotations,cancelled_annotations"})
            except GrewkitError as exc:
                if "HTTP 404" in str(exc):  # past the last page
                    break
                raise
            tasks = doc.get("tasks", []) if isinstance(doc, dict) else doc
            for task in tasks:
                data = task.get("data") or {}
                key = data.get("grewkit_key")
                if key is None:
                    continue
                annotated = (task.get("total_annotations") or 0) + (task.get("cancelled_annotations") or 0) > 0
                if key in out:
                    # Never expected (keys are checked before every import); keep the oldest and report.
                    out[key].setdefault("duplicates", []).append(int(task["id"]))
                    continue
                out[key] = {"id": int(task["id"]), "digest": data.get("grewkit_digest"), "annotated": annotated}
            total = doc.get("total", 0) if isinstance(doc, dict) else len(tasks)
            if not tasks or page * 1000 >= total:
                break
            page += 1
        return out

    @staticmethod
    def _payload(task: TaskSpec) -> dict:
        data = dict(task.data, grewkit_key=task.key, grewkit_digest=task.digest)
        return {"data": data, "predictions": task.predictions}

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
                self.client.request("POST", f"/api/projects/{project_id}/import",
                                    params={"commit_to_project": "true", "return_task_ids": "false"},
                                    json=[self._payload(t) for t in batch])
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
        self.client.request("PATCH", f"/api/tasks/{task_id}/", json={"data": payload["data"]})
        old = self.client.request("GET", "/api/predictions/", params={"task": task_id})
        for prediction in old or []:
            self.client.request("DELETE", f"/api/predictions/{prediction['id']}/")
        for prediction in task.predictions:
            self.client.request("POST", "/api/predictions/", json={"task": task_id, **prediction})

    # -- annotations -------------------------------------------------------------------------
    def users(self) -> dict[int, str]:
        if self._users is None:
            rows = self.client.request("GET", "/api/users/")
            self._users = {int(u["id"]): u.get("email") or u.get("username") or str(u["id"]) for u in rows}
        return self._users

    def export(self, project_id: int, task_ids: list[int] | None = None) -> list[dict]:
        if task_ids is None:
            return self.client.request("GET", f"/api/projects/{project_id}/export",
                                       params={"exportType": "JSON", "download_all_tasks": "true"})
        out = []
        for start in range(0, len(task_ids), 200):
            # The server reads ``ids[]`` (the SDK's download_sync sends ``ids`` and gets everything back).
            out += self.client.request("GET", f"/api/projects/{project_id}/export", params={
                "exportType": "JSON", "download_all_tasks": "true", "ids[]": task_ids[start:start + 200]})
        return out

    def changed_task_ids(self, project_id: int, since: datetime) -> list[int]:
        """Tasks whose ``updated_at`` is after ``since``: creating, editing, skipping or deleting an
        annotation touches its task (an edit leaves the annotation's ``completed_at`` as it was)."""
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        query = json.dumps({"filters": {"conjunction": "and", "items": [
            {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": stamp}]}})
        ids, page = [], 1
        while True:
            try:
                doc = self.client.request("GET", "/api/tasks/", params={
                    "project": project_id, "fields": "task_only", "query": query, "page": page, "page_size": 1000,
                    "include": "id"})
            except GrewkitError as exc:
                if "HTTP 404" in str(exc):
                    break
                raise
            tasks = doc.get("tasks", [])
            ids += [int(t["id"]) for t in tasks]
            if not tasks or page * 1000 >= doc.get("total", 0):
                break
            page += 1
        return ids

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
                out.append(RemoteAnnotation(
                    annotation_id=f"{self.annotation_prefix}{ann['id']}", task_key=key, task_id=int(task["id"]),
                    annotator=annotator, created_at=_parse_time(ann.get("created_at")),
                    updated_at=_parse_time(ann.get("updated_at") or ann.get("created_at")),
                    was_cancelled=bool(ann.get("was_cancelled")), result=ann.get("result") or [], task_data=data))
        return PullResult(out, {int(t["id"]) for t in tasks}, complete=since is None)

    def summary(self, project_id):
        doc = self.client.request("GET", f"/api/projects/{project_id}/")
        return {"tasks": int(doc.get("task_number") or 0),
                "done": int(doc.get("num_tasks_with_annotations") or 0),
                "skipped": int(doc.get("skipped_annotations_number") or 0),
                "annotations": int(doc.get("total_annotations_number") or 0)}


# Backend name -> "module:Class"; another tool adds its line here.
BACKENDS: dict[str, str] = {
    "labelstudio": "grewkit.annotate.backend:LabelStudioBackend",
}


def backend_class(name: str) -> type[AnnotationBackend]:
    if name not in BACKENDS:
        raise GrewkitError(f"unknown annotation backend {name!r}; known: {', '.join(BACKENDS)}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
