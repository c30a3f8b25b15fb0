"""Keyed, resumable annotation runs (fiftyone's "annotation runs"): one record per campaign.

A run record says which backend and server project hold the campaign, with which config, and
how far pulls have got (the ``updated_at`` watermark). It is written before any task is sent,
so an interrupted push resumes into the same server project. Records hold no secrets.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path

from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError

ANNOTATION_DIR = "annotation"
SERVER_DIR = "annotation/server"
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass
class AnnotationRun:
    key: str
    backend: str
    url: str
    document_root: str | None = None
    project_id: int | None = None
    k: int | None = None
    config_hash: str | None = None
    watermark: str | None = None
    pushed: int = 0
    history: list = field(default_factory=list)

    @staticmethod
    def path(project, key: str) -> Path:
        if not _SAFE.match(key):
            raise GrewkitError(f"campaign name {key!r} must use letters, digits, '.', '_' and '-'")
        return project.root / ANNOTATION_DIR / "runs" / f"{key}.json"

    @classmethod
    def load(cls, project, key: str) -> AnnotationRun | None:
        path = cls.path(project, key)
        if not path.is_file():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise GrewkitError(f"unreadable annotation run record ({exc})", path=path) from None

    def save(self, project) -> None:
        write_text(self.path(project, self.key), json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    def log(self, project, event: str, **details) -> None:
        from datetime import datetime

        self.history.append({"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, **details})
        self.history = self.history[-200:]
        self.save(project)


def server_dir(project) -> Path:
    return project.root / SERVER_DIR


def resolve_connection(
    project, *, url: str | None, api_key: str | None, document_root: str | None, run: AnnotationRun | None = None
) -> tuple[str, str, str | None]:
    """URL, API key and local-files document root: options first, then the environment, then the
    run record and the project's own server started by ``grewkit annotate serve``."""
    from grewkit.annotate.server import load_credentials, running_server

    state = running_server(server_dir(project))
    url = url or os.environ.get("GREWKIT_LABEL_STUDIO_URL") or (state or {}).get("url") or (run.url if run else None)
    if not url:
        raise GrewkitError(
            "no Label Studio server: start one with `grewkit annotate serve --detach` or pass --url and --api-key"
        )
    api_key = api_key or os.environ.get("GREWKIT_LABEL_STUDIO_API_KEY")
    if not api_key:
        creds = load_credentials(server_dir(project))
        if creds is None:
            raise GrewkitError("no API key: pass --api-key or set GREWKIT_LABEL_STUDIO_API_KEY")
        api_key = creds.token
    document_root = document_root or (state or {}).get("document_root") or (run.document_root if run else None)
    return url, api_key, document_root
