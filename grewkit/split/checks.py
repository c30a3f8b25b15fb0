"""Protocol checks for `grewkit validate`: no identity leak, no camera leak, a well-formed probe/gallery shape.

These run on the splits manifest as written, whoever wrote it (``grewkit split``, an import, or
a hand edit), so a leaky split is refused however it came about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.validate import Problem
from grewkit.split.protocol import ROLES, SPLITS

SETS = ("train", "val", "test")


@dataclass
class Shape:
    """Per split: identities, sequences, cameras, probes and gallery sequences."""

    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    def line(self) -> str:
        parts = []
        for name in SPLITS:
            r = self.rows.get(name)
            if not r:
                continue
            text = f"{name} {r['identities']} ids / {r['sequences']} seqs / {r['cameras']} cams"
            if r.get("probe") or r.get("gallery"):
                text += f" ({r['probe']} probe + {r['gallery']} gallery)"
            parts.append(text)
        return "protocol: " + "; ".join(parts) if parts else "protocol: empty"


def _shape(splits: pa.Table) -> Shape:
    shape = Shape()
    for name in SPLITS:
        t = splits.filter(pc.equal(splits.column("split"), name))
        if not t.num_rows:
            continue
        roles = t.column("role")
        shape.rows[name] = {
            "identities": len(pc.unique(t.column("identity_id").drop_null())),
            "sequences": t.num_rows,
            "cameras": len(pc.unique(t.column("camera_id").drop_null())),
            "probe": int(pc.sum(pc.equal(roles, "probe")).as_py() or 0),
            "gallery": int(pc.sum(pc.equal(roles, "gallery")).as_py() or 0),
        }
    return shape


def _example(values) -> str:
    return repr(sorted(map(str, values))[0])


def check_splits(
    splits: pa.Table, *, camera_disjoint: bool, sequences: pa.Array | None = None
) -> tuple[list[str], Shape]:
    """Problems of a splits table (messages) and its shape. Pure: the tests call it on hand-made leaky tables."""
    problems: list[str] = []
    split_col, role_col = splits.column("split"), splits.column("role")
    bad_split = set(pc.unique(split_col).to_pylist()) - set(SPLITS)
    if bad_split:
        problems.append(f"unknown split values {sorted(bad_split)} (allowed: {', '.join(SPLITS)})")
    evaluated = pc.is_in(split_col, value_set=pa.array(["test", "val"]))
    has_role = pc.fill_null(pc.is_in(role_col, value_set=pa.array(list(ROLES))), False)
    no_role = pc.is_in(split_col, value_set=pa.array(["train", "distractor"]))
    bad_role = pc.or_(pc.and_(evaluated, pc.invert(has_role)), pc.and_(no_role, pc.is_valid(role_col)))
    if pc.any(bad_role).as_py():
        bad = splits.filter(bad_role)
        r = bad.slice(0, 1).to_pylist()[0]
        problems.append(
            f"{bad.num_rows} rows have a role that does not fit their split "
            f"(test/val need probe or gallery, train/distractor none), e.g. {r['sequence_id']!r}: {r['split']}/{r['role']}"
        )

    def values(column: str, split: str, role: str | None = None) -> set:
        mask = pc.equal(split_col, split)
        if role is not None:
            mask = pc.and_(mask, pc.fill_null(pc.equal(role_col, role), False))
        return set(pc.unique(splits.column(column).filter(mask).drop_null()).to_pylist())

    ids_of = {s: values("identity_id", s) for s in SPLITS}
    for a_i, a in enumerate(SPLITS):
        for b in SPLITS[a_i + 1 :]:
            shared = ids_of[a] & ids_of[b]
            if shared:
                problems.append(
                    f"identity leak: {len(shared)} identities are in both {a} and {b}, e.g. {_example(shared)}"
                )
    if camera_disjoint:
        cams_of = {s: values("camera_id", s) for s in SETS}
        for a_i, a in enumerate(SETS):
            for b in SETS[a_i + 1 :]:
                shared = cams_of[a] & cams_of[b]
                if shared:
                    problems.append(
                        f"camera leak: {len(shared)} cameras record both {a} and {b} "
                        f"(camera_disjoint is on), e.g. {_example(shared)}"
                    )

    for name in ("test", "val"):
        unanswerable = values("identity_id", name, "probe") - values("identity_id", name, "gallery")
        if unanswerable:
            problems.append(
                f"{name}: {len(unanswerable)} probe identities have no gallery sequence, e.g. {_example(unanswerable)}"
            )
        # Probes may lack an identity (an imported public release hides them); gallery sequences may not.
        gallery = pc.and_(pc.equal(split_col, name), pc.fill_null(pc.equal(role_col, "gallery"), False))
        no_identity = int(pc.sum(pc.and_(gallery, pc.is_null(splits.column("identity_id")))).as_py() or 0)
        if no_identity:
            problems.append(f"{name}: {no_identity} gallery sequences have no identity")

    if sequences is not None:
        unknown = splits.column("sequence_id").filter(
            pc.invert(pc.is_in(splits.column("sequence_id"), value_set=sequences))
        )
        if len(unknown):
            problems.append(
                f"{len(unknown)} split sequences are not in the sequences manifest, e.g. {_example(unknown.to_pylist())}"
            )
    return problems, _shape(splits)


UNAUDITED_PREFIX = "unaudited"  # grewkit.annotate.campaign.UNAUDITED starts so


def unaudited_distractors(project: Project, splits: pa.Table) -> tuple[int, str | None, str | None]:
    """Distractor sequences whose identity (identities manifest, annotation) was seen in one camera and
    never shown beside the benchmark identities: (count, example sequence, its identity)."""
    if not project.has("identities") or splits.num_rows == 0:
        return 0, None, None
    ids = project.read("identities", ["identity_id", "reason"])
    unaudited = {
        i
        for i, r in zip(ids["identity_id"].to_pylist(), ids["reason"].to_pylist())
        if r and r.startswith(UNAUDITED_PREFIX)
    }
    if not unaudited:
        return 0, None, None
    rows = [
        (seq, ident)
        for seq, ident, split in zip(
            splits["sequence_id"].to_pylist(), splits["identity_id"].to_pylist(), splits["split"].to_pylist()
        )
        if split == "distractor" and ident in unaudited
    ]
    return (len(rows), *rows[0]) if rows else (0, None, None)


def protocol_problems(project: Project) -> list[Problem]:
    """Registered in ``grewkit.core.validate.CHECKS``; prints the protocol's shape when the splits are sound."""
    if not project.has("splits"):
        return []
    path = project.relative(project.manifests_dir / "splits.parquet")
    try:
        splits = project.read("splits")
        camera_disjoint = project.settings.section("split").camera_disjoint
        sequences = None
        if project.has("sequences"):
            sequences = pc.unique(project.read("sequences", ["sequence_id"]).column("sequence_id"))
    except GrewkitError as exc:
        return [Problem(path, exc.reason)]
    messages, shape = check_splits(splits, camera_disjoint=camera_disjoint, sequences=sequences)
    if not project.settings.section("split").allow_unaudited_distractors:
        count, seq, ident = unaudited_distractors(project, splits)
        if count:
            messages.append(
                f"{count} distractor sequences come from single-camera identities no audit has checked, "
                f"e.g. {seq!r} ({ident}): answer the audit round or set [split] allow_unaudited_distractors"
            )
    if not messages:
        from grewkit.core.progress import console

        checked = (
            "identity leaks 0, camera leaks 0" if camera_disjoint else "identity leaks 0 (camera-disjoint not asked)"
        )
        console.print(f"{shape.line()}; {checked}", highlight=False, markup=False, soft_wrap=True)
    return [Problem(path, m) for m in messages]
