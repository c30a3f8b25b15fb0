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


def check_splits(splits: pa.Table, *, camera_disjoint: bool, sequences: set[str] | None = None) -> tuple[list[str], Shape]:
    """Problems of a splits table (messages) and its shape. Pure: the tests call it on hand-made leaky tables."""
    problems: list[str] = []
    split = splits.column("split").to_pylist()
    role = splits.column("role").to_pylist()
    ident = splits.column("identity_id").to_pylist()
    cam = splits.column("camera_id").to_pylist()
    seq = splits.column("sequence_id").to_pylist()

    bad_split = {s for s in split if s not in SPLITS}
    if bad_split:
        problems.append(f"unknown split values {sorted(bad_split)} (allowed: {', '.join(SPLITS)})")
    bad_role = [i for i, (s, r) in enumerate(zip(split, role))
                if (s in ("test", "val") and r not in ROLES) or (s in ("train", "distractor") and r is not None)]
    if bad_role:
        i = bad_role[0]
        problems.append(f"{len(bad_role)} rows have a role that does not fit their split "
                        f"(test/val need probe or gallery, train/distractor none), e.g. {seq[i]!r}: {split[i]}/{role[i]}")

    ids_of: dict[str, set] = {s: set() for s in SPLITS}
    cams_of: dict[str, set] = {s: set() for s in SPLITS}
    for s, i, c in zip(split, ident, cam):
        if s in ids_of:
            if i is not None:
                ids_of[s].add(i)
            if c is not None:
                cams_of[s].add(c)
    for a_i, a in enumerate(SPLITS):
        for b in SPLITS[a_i + 1:]:
            shared = ids_of[a] & ids_of[b]
            if shared:
                problems.append(f"identity leak: {len(shared)} identities are in both {a} and {b}, e.g. {_example(shared)}")
    if camera_disjoint:
        for a_i, a in enumerate(SETS):
            for b in SETS[a_i + 1:]:
                shared = cams_of[a] & cams_of[b]
                if shared:
                    problems.append(f"camera leak: {len(shared)} cameras record both {a} and {b} "
                                    f"(camera_disjoint is on), e.g. {_example(shared)}")

    for name in ("test", "val"):
        probe_ids = {i for s, r, i in zip(split, role, ident) if s == name and r == "probe" and i is not None}
        gallery_ids = {i for s, r, i in zip(split, role, ident) if s == name and r == "gallery" and i is not None}
        unanswerable = probe_ids - gallery_ids
        if unanswerable:
            problems.append(f"{name}: {len(unanswerable)} probe identities have no gallery sequence, e.g. {_example(unanswerable)}")
        # Probes may lack an identity (an imported public release hides them); gallery sequences may not.
        no_identity = sum(1 for s, r, i in zip(split, role, ident) if s == name and r == "gallery" and i is None)
        if no_identity:
            problems.append(f"{name}: {no_identity} gallery sequences have no identity")

    if sequences is not None:
        unknown = set(seq) - sequences
        if unknown:
            problems.append(f"{len(unknown)} split sequences are not in the sequences manifest, e.g. {_example(unknown)}")
    return problems, _shape(splits)


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
            sequences = set(pc.unique(project.read("sequences", ["sequence_id"]).column("sequence_id")).to_pylist())
    except GrewkitError as exc:
        return [Problem(path, exc.reason)]
    messages, shape = check_splits(splits, camera_disjoint=camera_disjoint, sequences=sequences)
    if not messages:
        from grewkit.core.progress import console

        checked = "identity leaks 0, camera leaks 0" if camera_disjoint else "identity leaks 0 (camera-disjoint not asked)"
        console.print(f"{shape.line()}; {checked}", highlight=False, markup=False, soft_wrap=True)
    return [Problem(path, m) for m in messages]
