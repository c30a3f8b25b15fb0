"""Evaluation protocols: which sequences are probes and gallery, and how results are grouped.

Each protocol is a function ``(catalog, features, conventions, options) -> dict`` registered in
``PROTOCOLS``. The catalog joins the ``sequences`` and ``splits`` manifests (and ``attributes``)
so that a protocol only chooses sequence ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry
from grewkit.evaluate.features import Features
from grewkit.evaluate.metrics import Conventions, FeatureSet, PerProbe, RetrievalEvaluator, summarize
from grewkit.evaluate.search import SearchConfig, encode, search


@dataclass
class Catalog:
    """What is known about each sequence: identity, camera, view, condition, split, role, tracklet."""

    rows: dict[str, dict]
    attributes: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)

    @classmethod
    def from_tables(
        cls, sequences: pa.Table, splits: pa.Table | None = None, attributes: pa.Table | None = None
    ) -> Catalog:
        rows: dict[str, dict] = {}
        for r in sequences.to_pylist():
            rows.setdefault(
                r["sequence_id"],
                {k: r.get(k) for k in ("identity_id", "camera_id", "view", "condition", "tracklet_id")},
            )
        for r in splits.to_pylist() if splits is not None else []:
            row = rows.setdefault(
                r["sequence_id"],
                {"identity_id": None, "camera_id": None, "view": None, "condition": None, "tracklet_id": None},
            )
            row["split"] = r["split"]
            row["role"] = r["role"]
            if r.get("identity_id") is not None:
                row["identity_id"] = r["identity_id"]
            if r.get("camera_id") is not None:
                row["camera_id"] = r["camera_id"]
        attrs: dict[tuple[str, str], dict[str, set[str]]] = {}
        for r in attributes.to_pylist() if attributes is not None else []:
            # A value holds when most annotators chose it (ground truth: votes == total).
            if r["votes"] * 2 > r["total"]:
                attrs.setdefault((r["level"], r["subject_id"]), {}).setdefault(r["attribute"], set()).add(r["value"])
        return cls(rows, attrs)

    @classmethod
    def from_project(cls, project) -> Catalog:
        if not project.has("sequences"):
            raise GrewkitError("no sequences manifest: import or render sequences first", path=project.manifests_dir)
        splits = project.read("splits") if project.has("splits") else None
        attributes = project.read("attributes") if project.has("attributes") else None
        return cls.from_tables(project.read("sequences"), splits, attributes)

    def select(self, **want) -> list[str]:
        out = []
        for sid, row in self.rows.items():
            if all(
                (row.get(k) in v) if isinstance(v, (set, list, tuple)) else row.get(k) == v for k, v in want.items()
            ):
                out.append(sid)
        return sorted(out)

    def feature_set(self, ids: list[str], features: Features, *, labelled: bool = True) -> FeatureSet:
        rows = [self.rows[s] for s in ids]
        return FeatureSet(
            list(ids),
            features.take(ids),
            [r["identity_id"] if labelled else None for r in rows],
            [r.get("camera_id") for r in rows],
            [r.get("view") for r in rows],
        )

    def attribute_values(self, sid: str, attribute: str) -> set[str]:
        row = self.rows[sid]
        for level, subject in (("tracklet", row.get("tracklet_id")), ("identity", row.get("identity_id"))):
            values = self.attributes.get((level, subject), {}).get(attribute) if subject else None
            if values:
                return values
        return set()


@dataclass(frozen=True)
class Options:
    search: SearchConfig = SearchConfig()
    distractor_counts: tuple[int, ...] = ()
    identity_counts: tuple[int, ...] = ()
    include_identical_view: bool = False
    seed: int = 0
    gallery_conditions: tuple[str, ...] = ("nm-01", "nm-02", "nm-03", "nm-04")
    probe_conditions: dict = field(
        default_factory=lambda: {"NM": ("nm-05", "nm-06"), "BG": ("bg-01", "bg-02"), "CL": ("cl-01", "cl-02")}
    )


def _test_sets(catalog: Catalog, split: str = "test") -> tuple[list[str], list[str]]:
    probes = catalog.select(split=split, role="probe")
    gallery = catalog.select(split=split, role="gallery")
    if not probes or not gallery:
        raise GrewkitError(
            f"the splits manifest has no {split} probes or no {split} gallery: run `grewkit split` first"
        )
    return probes, gallery


def _run(probes: FeatureSet, gallery: FeatureSet, conventions: Conventions, options: Options) -> tuple[dict, PerProbe]:
    ev = RetrievalEvaluator(gallery, conventions, search_config=options.search)
    ev.process(probes)
    return ev.evaluate(), ev.per_probe()


def grew(catalog, features, conventions, options, *, split="test") -> dict:
    """GREW: test probes against the test gallery (2 + 2 sequences per identity in GREW's split)."""
    p, g = _test_sets(catalog, split)
    metrics, _ = _run(catalog.feature_set(p, features), catalog.feature_set(g, features), conventions, options)
    return {"protocol": "grew", "metrics": metrics, "gallery": len(g)}


def gait3d(catalog, features, conventions, options) -> dict:
    """Gait3D style: probes without a true match are skipped; Rank-1/5/10, mAP, mINP."""
    conventions = replace(conventions, no_match="skip", ranks=(1, 5, 10))
    out = grew(catalog, features, conventions, options)
    out["protocol"] = "gait3d"
    out["conventions"] = _describe(conventions)
    return out


def _curve(
    probes: FeatureSet,
    gallery: FeatureSet,
    checkpoints: list[int],
    conventions: Conventions,
    options: Options,
    probe_masks: list[np.ndarray] | None = None,
) -> list[dict]:
    pl, gl = encode(probes.labels, gallery.labels)
    pk = gk = None
    if conventions.exclude != "none":
        pk, gk = encode(probes.keys(conventions.exclude), gallery.keys(conventions.exclude))
    cfg = replace(options.search, distance=conventions.distance, ties=conventions.ties, topk=0)
    res = search(
        probes.features,
        gallery.features,
        probe_labels=pl,
        gallery_labels=gl,
        config=cfg,
        probe_keys=pk,
        gallery_keys=gk,
        checkpoints=checkpoints,
    )
    out = []
    for c in range(len(res.checkpoints)):
        per = PerProbe(probes.ids, res.n_pos, res.pos_ranks[c])
        if probe_masks is not None:
            per = per.subset(probe_masks[c])
        out.append(summarize(per, conventions))
    return out


def grew_distractors(catalog, features, conventions, options) -> dict:
    """GREW with distractors added to the gallery; a curve over the number of distractors (GREW Fig. 10)."""
    p, g = _test_sets(catalog)
    d = catalog.select(split="distractor")
    if not d:
        raise GrewkitError("the splits manifest has no distractor sequences")
    rng = np.random.default_rng(options.seed)
    d = [d[i] for i in rng.permutation(len(d))]
    counts = sorted(set(options.distractor_counts or (0, len(d) // 4, len(d) // 2, len(d))))
    if counts[-1] > len(d):
        raise GrewkitError(f"asked for {counts[-1]} distractors but only {len(d)} exist")
    gallery = catalog.feature_set(g + d, features)
    gallery.labels = gallery.labels[: len(g)] + [None] * len(d)  # a distractor never matches a probe
    curve = _curve(catalog.feature_set(p, features), gallery, [len(g) + c for c in counts], conventions, options)
    return {
        "protocol": "grew-distractors",
        "gallery": len(g),
        "curve": [{"distractors": c, **m} for c, m in zip(counts, curve)],
        "metrics": curve[-1],
    }


def identities(catalog, features, conventions, options) -> dict:
    """Accuracy as the number of test identities grows (GREW Fig. 9), on nested random identity subsets."""
    p, g = _test_sets(catalog)
    ids = sorted({catalog.rows[s]["identity_id"] for s in g} | {catalog.rows[s]["identity_id"] for s in p} - {None})
    rng = np.random.default_rng(options.seed)
    order = {ident: i for i, ident in enumerate(ids[j] for j in rng.permutation(len(ids)))}
    counts = sorted(set(options.identity_counts or tuple(max(1, len(ids) * f // 8) for f in (1, 2, 4, 8))))
    if counts[-1] > len(ids):
        raise GrewkitError(f"asked for {counts[-1]} identities but the test set has {len(ids)}")
    g = sorted(g, key=lambda s: (order.get(catalog.rows[s]["identity_id"], len(ids)), s))
    g_rank = np.array([order.get(catalog.rows[s]["identity_id"], len(ids)) for s in g])
    p_rank = np.array([order.get(catalog.rows[s]["identity_id"], len(ids)) for s in p])
    checkpoints = [max(1, int((g_rank < n).sum())) for n in counts]
    masks = [p_rank < n for n in counts]
    curve = _curve(
        catalog.feature_set(p, features), catalog.feature_set(g, features), checkpoints, conventions, options, masks
    )
    return {
        "protocol": "identities",
        "curve": [{"identities": n, **m} for n, m in zip(counts, curve)],
        "metrics": curve[-1],
    }


def attributes(catalog, features, conventions, options) -> dict:
    """GREW Table 7: the GREW protocol's metrics on probe subsets sharing an attribute value."""
    p, g = _test_sets(catalog)
    metrics, per = _run(catalog.feature_set(p, features), catalog.feature_set(g, features), conventions, options)
    names = sorted({a for values in catalog.attributes.values() for a in values})
    if not names:
        raise GrewkitError("the attributes manifest is empty or absent: annotate or import attributes first")
    table = []
    for name in names:
        values: dict[str, list[int]] = {}
        for i, sid in enumerate(p):
            for v in catalog.attribute_values(sid, name):
                values.setdefault(v, []).append(i)
        for v, idx in sorted(values.items()):
            mask = np.zeros(len(p), dtype=bool)
            mask[idx] = True
            table.append({"attribute": name, "value": v, **summarize(per.subset(mask), conventions)})
    return {"protocol": "attributes", "metrics": metrics, "subsets": table}


def casiab(catalog, features, conventions, options) -> dict:
    """CASIA-B: gallery nm-01..04; NM/BG/CL probes; Rank-1 per probe view x gallery view, identical view excluded."""
    have = set(features.ids)
    sids = [s for s in catalog.rows if s in have]
    if any(catalog.rows[s].get("split") for s in sids):
        sids = [s for s in sids if catalog.rows[s].get("split") in ("test", None)]
    gal = [s for s in sids if catalog.rows[s].get("condition") in options.gallery_conditions]
    if not gal:
        raise GrewkitError(f"no gallery sequences with conditions {', '.join(options.gallery_conditions)}")
    views = sorted({catalog.rows[s]["view"] for s in sids} - {None})
    if len(views) < 2 and not options.include_identical_view:
        raise GrewkitError(
            f"only one view ({', '.join(views) or 'none'}): excluding the identical view leaves no "
            "gallery; pass --include-identical-view to compare same-view sequences"
        )
    conventions = replace(conventions, ranks=(1,))
    out: dict = {
        "protocol": "casiab",
        "views": views,
        "include_identical_view": options.include_identical_view,
        "conditions": {},
    }
    for name, conds in options.probe_conditions.items():
        probes = [s for s in sids if catalog.rows[s].get("condition") in conds]
        if not probes:
            continue
        matrix: dict[str, dict[str, float]] = {}
        for pv in views:
            pv_ids = sorted(s for s in probes if catalog.rows[s]["view"] == pv)
            if not pv_ids:
                continue
            pset = catalog.feature_set(pv_ids, features)
            for gv in views:
                if gv == pv and not options.include_identical_view:
                    continue
                gv_ids = sorted(s for s in gal if catalog.rows[s]["view"] == gv)
                if not gv_ids:
                    continue
                m, _ = _run(pset, catalog.feature_set(gv_ids, features), conventions, options)
                matrix.setdefault(pv, {})[gv] = m["rank1"]
        per_view = {pv: float(np.mean(list(row.values()))) for pv, row in matrix.items()}
        out["conditions"][name] = {
            "rank1": float(np.mean(list(per_view.values()))),
            "per_view": per_view,
            "matrix": matrix,
            "probes": len(probes),
        }
    out["metrics"] = {f"{name}_rank1": v["rank1"] for name, v in out["conditions"].items()}
    return out


# Name -> the protocol function itself (defined above). Contract:
# ``function(catalog, features, conventions, options) -> dict`` with at least ``metrics``.
PROTOCOLS: Registry[Callable[..., dict]] = Registry(
    "protocol",
    {
        "grew": grew,
        "grew-distractors": grew_distractors,
        "identities": identities,
        "attributes": attributes,
        "gait3d": gait3d,
        "casiab": casiab,
    },
)


def run_protocol(
    name: str,
    catalog: Catalog,
    features: Features,
    conventions: Conventions = Conventions(),
    options: Options = Options(),
) -> dict:
    result = PROTOCOLS.get(name)(catalog, features, conventions, options)
    result.setdefault("conventions", _describe(conventions))
    return result


def _describe(conventions: Conventions) -> dict:
    return {
        "distance": conventions.distance,
        "no_match": conventions.no_match,
        "exclude": conventions.exclude,
        "ties": conventions.ties,
    }
