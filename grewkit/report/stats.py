"""The numbers of a dataset report: GREW Table 1/4 style counts per split, and the distributions behind the figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.interop.pixels import is_silhouette

SPLIT_ORDER = ("train", "val", "test", "distractor", "left out", "all")


@dataclass
class SplitRow:
    split: str
    identities: int
    sequences: int
    frames: int
    cameras: int
    probes: int = 0
    gallery: int = 0


@dataclass
class DatasetStats:
    name: str
    identities: int
    sequences: int
    frames: int
    cameras: int
    modalities: dict[str, int]
    splits: list[SplitRow]
    lengths: list[int]  # frames per sequence
    views: Counter
    view_source: str  # what "view" means in the figure
    sequences_per_identity: list[int]
    cameras_per_identity: list[int]
    attributes: dict[str, Counter] = field(default_factory=dict)  # attribute -> value -> identities (or tracklets)
    attribute_level: str = ""


def _sequence_table(project: Project) -> dict[str, dict]:
    """sequence_id -> identity, camera, view, frames (of its silhouettes when it has any)."""
    if not project.has("sequences"):
        raise GrewkitError(
            "no sequences manifest: nothing to report (render or import sequences first)", path=project.manifests_dir
        )
    from grewkit.split.inputs import sequence_rows

    resolved = {r["sequence_id"]: r for r in sequence_rows(project).to_pylist()}
    out: dict[str, dict] = {}
    for r in project.read("sequences", ["sequence_id", "modality", "view", "frames"]).to_pylist():
        row = out.setdefault(
            r["sequence_id"], {**resolved[r["sequence_id"]], "view": r["view"], "frames": 0, "sil": False}
        )
        is_sil = is_silhouette(r["modality"])
        if is_sil and not row["sil"]:
            row["frames"], row["sil"] = r["frames"], True
        elif not row["sil"]:
            row["frames"] = max(row["frames"], r["frames"])
    return out


def collect(project: Project) -> DatasetStats:
    seqs = _sequence_table(project)
    modalities = Counter()
    for r in project.read("sequences", ["modality"]).column("modality").to_pylist():
        modalities[r] += 1
    splits = {r["sequence_id"]: r for r in project.read("splits").to_pylist()} if project.has("splits") else {}

    rows = []
    groups: dict[str, list[str]] = {}
    for seq_id in seqs:
        groups.setdefault(
            splits[seq_id]["split"] if seq_id in splits else ("left out" if splits else "all"), []
        ).append(seq_id)
    for name in SPLIT_ORDER:
        ids = groups.get(name, [])
        if not ids:
            continue
        roles = Counter(splits[s]["role"] for s in ids if s in splits)
        rows.append(
            SplitRow(
                split=name,
                identities=len({seqs[s]["identity_id"] for s in ids if seqs[s]["identity_id"] is not None}),
                sequences=len(ids),
                frames=sum(seqs[s]["frames"] for s in ids),
                cameras=len({seqs[s]["camera_id"] for s in ids if seqs[s]["camera_id"] is not None}),
                probes=roles.get("probe", 0),
                gallery=roles.get("gallery", 0),
            )
        )

    views = Counter(r["view"] for r in seqs.values() if r["view"] is not None)
    view_source = "view label of the sequence"
    if not views and project.has("cameras"):
        cam_view = {c["camera_id"]: c["view"] for c in project.read("cameras", ["camera_id", "view"]).to_pylist()}
        views = Counter(cam_view.get(r["camera_id"]) for r in seqs.values() if cam_view.get(r["camera_id"]))
        view_source = "dominant view of the sequence's camera"
    if not views:
        views = Counter(r["camera_id"] for r in seqs.values() if r["camera_id"] is not None)
        view_source = "camera (no view labels in the manifests)"

    per_id: dict[str, list[dict]] = {}
    for r in seqs.values():
        if r["identity_id"] is not None:
            per_id.setdefault(r["identity_id"], []).append(r)

    stats = DatasetStats(
        name=project.settings.section("project").name,
        identities=len(per_id),
        sequences=len(seqs),
        frames=sum(r["frames"] for r in seqs.values()),
        cameras=len({r["camera_id"] for r in seqs.values() if r["camera_id"] is not None}),
        modalities=dict(sorted(modalities.items())),
        splits=rows,
        lengths=sorted(r["frames"] for r in seqs.values()),
        views=views,
        view_source=view_source,
        sequences_per_identity=sorted(len(v) for v in per_id.values()),
        cameras_per_identity=sorted(len({r["camera_id"] for r in v}) for v in per_id.values()),
    )
    if project.has("attributes"):
        attrs = project.read("attributes").to_pylist()
        level = "identity" if any(a["level"] == "identity" for a in attrs) else "tracklet"
        stats.attribute_level = level
        # The majority value per subject (ties: every tied value) counts once, as in GREW Fig. 5.
        best: dict[tuple[str, str], list[dict]] = {}
        for a in attrs:
            if a["level"] == level:
                best.setdefault((a["subject_id"], a["attribute"]), []).append(a)
        for (_, attribute), values in best.items():
            stats.attributes.setdefault(attribute, Counter())
            top = max(v["votes"] for v in values)
            for v in values:
                if v["votes"] == top or attribute == "carrying":  # carrying is multi-valued
                    stats.attributes[attribute][v["value"]] += 1
    return stats
