"""What the split needs from a project: one row per sequence with its identity and camera.

A sequence's identity is the sequences manifest's ``identity_id`` or, failing that, the
resolved identity of its tracklet (identities manifest); its camera is ``camera_id`` or its
tracklet's camera. Sequences whose identity stays unknown (or whose tracklet was held out)
are unlabelled and can only be distractors.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project


def _fill_from(table: pa.Table, column: str, lookup: dict[str, str]) -> pa.Array:
    current = table.column(column).to_pylist()
    tracklets = table.column("tracklet_id").to_pylist()
    return pa.array([c if c is not None else lookup.get(t) for c, t in zip(current, tracklets)], pa.string())


def _one_row_per_sequence(project: Project, seqs: pa.Table) -> pa.Table:
    """Collapse the modality rows of each sequence, refusing sequences whose rows disagree."""
    grouped = seqs.group_by("sequence_id").aggregate(
        [
            ("identity_id", "count_distinct"),
            ("camera_id", "count_distinct"),
            ("identity_id", "max"),
            ("camera_id", "max"),
            ("tracklet_id", "max"),
        ]
    )
    for col in ("identity_id", "camera_id"):
        bad = pc.greater(grouped.column(f"{col}_count_distinct"), 1)
        if pc.any(bad).as_py():
            example = grouped.filter(bad).column("sequence_id")[0].as_py()
            raise GrewkitError(
                f"sequence {example!r} has rows of different {col} across modalities",
                path=project.manifests_dir / "sequences.parquet",
            )
    return pa.table(
        {
            "sequence_id": grouped.column("sequence_id"),
            "tracklet_id": grouped.column("tracklet_id_max"),
            "identity_id": grouped.column("identity_id_max"),
            "camera_id": grouped.column("camera_id_max"),
        }
    )


def sequence_rows(project: Project) -> pa.Table:
    """(sequence_id, identity_id, camera_id), one row per sequence, sorted by sequence_id."""
    if not project.has("sequences"):
        raise GrewkitError(
            "no sequences manifest: render sequences or `grewkit import` a dataset first", path=project.manifests_dir
        )
    seqs = project.read("sequences", ["sequence_id", "tracklet_id", "identity_id", "camera_id"])
    if pc.count_distinct(seqs.column("sequence_id")).as_py() == seqs.num_rows:
        rows = seqs  # one modality per sequence: nothing to reconcile
    else:
        rows = _one_row_per_sequence(project, seqs)
    needs = pc.and_(
        pc.is_valid(rows.column("tracklet_id")),
        pc.or_(pc.is_null(rows.column("identity_id")), pc.is_null(rows.column("camera_id"))),
    )
    if pc.any(needs).as_py():
        if project.has("identities"):
            ids = project.read("identities", ["tracklet_id", "identity_id", "status"])
            ids = ids.filter(pc.equal(ids.column("status"), "resolved"))
            lookup = dict(zip(ids.column("tracklet_id").to_pylist(), ids.column("identity_id").to_pylist()))
            rows = rows.set_column(
                rows.schema.get_field_index("identity_id"), "identity_id", _fill_from(rows, "identity_id", lookup)
            )
        if project.has("tracklets"):
            trk = project.read("tracklets", ["tracklet_id", "camera_id"])
            lookup = dict(zip(trk.column("tracklet_id").to_pylist(), trk.column("camera_id").to_pylist()))
            rows = rows.set_column(
                rows.schema.get_field_index("camera_id"), "camera_id", _fill_from(rows, "camera_id", lookup)
            )
    return rows.select(["sequence_id", "identity_id", "camera_id"])
