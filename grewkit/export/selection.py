"""What an export writes: each split sequence with its modality files, read from the manifests."""

from __future__ import annotations

from dataclasses import dataclass, field

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project


@dataclass
class ExportSequence:
    sequence_id: str
    identity_id: str | None
    camera_id: str | None
    split: str
    role: str | None
    view: str | None = None
    condition: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # modality -> stored path


def split_sequences(project: Project) -> list[ExportSequence]:
    """The sequences of the splits manifest, in sequence-id order, with their files per modality."""
    if not project.has("splits"):
        raise GrewkitError("no splits manifest: run `grewkit split` first", path=project.manifests_dir)
    out = {
        r["sequence_id"]: ExportSequence(r["sequence_id"], r["identity_id"], r["camera_id"], r["split"], r["role"])
        for r in project.read("splits").to_pylist()
    }
    for r in project.read("sequences", ["sequence_id", "modality", "view", "condition", "path"]).to_pylist():
        seq = out.get(r["sequence_id"])
        if seq is not None:
            seq.files[r["modality"]] = r["path"]
            seq.view, seq.condition = r["view"], r["condition"]
    missing = [s.sequence_id for s in out.values() if not s.files]
    if missing:
        raise GrewkitError(
            f"{len(missing)} split sequences have no file in the sequences manifest, e.g. {missing[0]!r}",
            path=project.manifests_dir / "splits.parquet",
        )
    return [out[k] for k in sorted(out)]


def silhouette_modality(sequences: list[ExportSequence], wanted: str | None) -> str:
    """The silhouette modality to export: ``wanted``, or the one every sequence has (sil64 before sil128)."""
    have = set.intersection(*(set(s.files) for s in sequences)) if sequences else set()
    if wanted:
        lacking = [s.sequence_id for s in sequences if wanted not in s.files]
        if lacking:
            raise GrewkitError(f"{len(lacking)} split sequences have no {wanted!r} file, e.g. {lacking[0]!r}")
        return wanted
    from grewkit.interop.pixels import is_silhouette

    sils = sorted((m for m in have if is_silhouette(m)), key=lambda m: (len(m), m))
    if not sils:
        raise GrewkitError(f"no silhouette modality common to all split sequences (they have: {sorted(have)})")
    return sils[0]
