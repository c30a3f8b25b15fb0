"""What ``grewkit status`` shows besides unit counts: the dataset as its manifests describe it.

Read from the project's manifests and annotation records only (no server is asked, nothing is
computed again): tracklets kept and dropped per reason, annotation progress and conflicts, and
split sizes. A part whose manifests do not exist yet is None.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc

from grewkit.core import manifests
from grewkit.core.manifests import read_manifest
from grewkit.core.wording import counted


def reason_kind(reason: str) -> str:
    """The kind of one filter reason: the text before its measured details ("too short: 12 frames" -> "too short")."""
    return reason.split(":", 1)[0].strip()


def tracklet_overview(root: Path) -> dict | None:
    if not manifests.exists(root, "tracklets"):
        return None
    table = read_manifest(root, "tracklets", columns=["kept", "filter_reason"])
    kept = int(pc.sum(table.column("kept")).as_py() or 0)
    reasons: Counter = Counter()
    for text in table.filter(pc.invert(table.column("kept"))).column("filter_reason").to_pylist():
        # A tracklet failing several filters counts once under each of them.
        for part in (text or "no reason recorded").split("; "):
            reasons[reason_kind(part)] += 1
    return {
        "total": table.num_rows,
        "kept": kept,
        "dropped": table.num_rows - kept,
        "dropped_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def tracklets_by_video(root: Path) -> list[dict]:
    """Per video: tracklets found, kept and dropped, and the dropped ones by reason kind (a tracklet
    failing several filters counts under each)."""
    if not manifests.exists(root, "tracklets"):
        return []
    table = read_manifest(root, "tracklets", columns=["video_id", "kept", "filter_reason"])
    out: dict[str, dict] = {}
    for vid, kept, reason in zip(*(table.column(c).to_pylist() for c in ("video_id", "kept", "filter_reason"))):
        row = out.setdefault(vid, {"video_id": vid, "found": 0, "kept": 0, "dropped": 0, "reasons": {}})
        row["found"] += 1
        row["kept" if kept else "dropped"] += 1
        for part in (reason or "").split("; ") if not kept else ():
            name = reason_kind(part) or "unknown"
            row["reasons"][name] = row["reasons"].get(name, 0) + 1
    return [out[v] for v in sorted(out)]


def annotation_overview(project) -> dict | None:
    root = project.manifests_dir
    runs_dir = project.root / "annotation" / "runs"
    run_files = sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
    if not run_files and not manifests.exists(root, "annotations") and not manifests.exists(root, "identities"):
        return None
    out: dict = {"campaigns": {}}
    for path in run_files:
        try:
            record = json.loads(path.read_text())
        except ValueError:
            out["campaigns"][path.stem] = {"error": f"unreadable run record {path}"}
            continue
        campaign = {"tasks_pushed": int(record.get("pushed") or 0)}
        report = project.root / "annotation" / "reports" / f"{path.stem}.json"
        if report.is_file():
            try:
                data = json.loads(report.read_text())
                campaign["conflicts"] = len(data.get("conflicts", []))
                campaign["conflict_counts"] = data.get("conflict_counts", {})
            except ValueError:
                campaign["error"] = f"unreadable report {report}"
        out["campaigns"][path.stem] = campaign
    if manifests.exists(root, "annotations"):
        ann = read_manifest(root, "annotations", columns=["task_key", "annotator", "was_cancelled"])
        cancelled = ann.column("was_cancelled").fill_null(False)
        answered = ann.filter(pc.invert(cancelled))
        out["annotations"] = ann.num_rows
        out["tasks_answered"] = len(pc.unique(answered.column("task_key")))
        out["skipped"] = int(pc.sum(cancelled).as_py() or 0)
        out["annotators"] = len(pc.unique(ann.column("annotator").drop_null()))
    if manifests.exists(root, "identities"):
        ids = read_manifest(root, "identities", columns=["identity_id", "status"])
        status = Counter(ids.column("status").to_pylist())
        resolved = ids.filter(pc.equal(ids.column("status"), "resolved"))
        out["tracklets_resolved"] = status.get("resolved", 0)
        out["tracklets_held_out"] = status.get("held_out", 0)
        out["identities"] = len(pc.unique(resolved.column("identity_id").drop_null()))
    return out


def split_overview(root: Path) -> dict | None:
    if not manifests.exists(root, "splits"):
        return None
    table = read_manifest(root, "splits", columns=["sequence_id", "identity_id", "split", "role"])
    out: dict = {}
    for row in (
        table.group_by(["split", "role"])
        .aggregate([("sequence_id", "count_distinct"), ("identity_id", "count_distinct")])
        .to_pylist()
    ):
        name = row["split"] if row["role"] is None else f"{row['split']} {row['role']}"
        out[name] = {"sequences": row["sequence_id_count_distinct"], "identities": row["identity_id_count_distinct"]}
    return dict(sorted(out.items()))


def project_overview(project) -> dict:
    root = project.manifests_dir
    return {
        "tracklets": tracklet_overview(root),
        "tracklets_by_video": tracklets_by_video(root),
        "annotation": annotation_overview(project),
        "splits": split_overview(root),
    }


def overview_lines(overview: dict) -> list[str]:
    """Plain lines for the terminal, one per part that exists."""
    lines = []
    t = overview.get("tracklets")
    if t is not None:
        why = ", ".join(f"{k}: {n}" for k, n in t["dropped_by_reason"].items())
        lines.append(
            f"tracklets: {t['kept']} kept, {t['dropped']} dropped of {t['total']}" + (f" ({why})" if why else "")
        )
    a = overview.get("annotation")
    if a is not None:
        for name, c in a["campaigns"].items():
            if "error" in c:
                lines.append(f"annotation [{name}]: {c['error']}")
                continue
            text = f"annotation [{name}]: {counted(c['tasks_pushed'], 'task')} pushed"
            if "conflicts" in c:
                kinds = ", ".join(f"{k}: {n}" for k, n in sorted(c["conflict_counts"].items()))
                text += f", {counted(c['conflicts'], 'conflict')} at the last pull" + (f" ({kinds})" if kinds else "")
            lines.append(text)
        if "annotations" in a:
            lines.append(
                f"annotations: {counted(a['tasks_answered'], 'task')} answered, {a['skipped']} skipped, "
                f"{a['annotations']} in all by {counted(a['annotators'], 'annotator')}"
            )
        if "identities" in a:
            lines.append(
                f"identities: {a['identities']} resolved from {counted(a['tracklets_resolved'], 'tracklet')}, "
                f"{counted(a['tracklets_held_out'], 'tracklet')} held out"
            )
    s = overview.get("splits")
    if s is not None:
        parts = [
            f"{name} {counted(v['sequences'], 'sequence')} / {counted(v['identities'], 'identity', 'identities')}"
            for name, v in s.items()
        ]
        lines.append("splits: " + "; ".join(parts) if parts else "splits: empty")
    return lines
