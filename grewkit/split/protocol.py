"""The GREW split protocol as a pure function of (sequence, identity, camera) rows and the [split] settings.

GREW (Zhu et al., ICCV 2021, Sec. 3.3): identities seen in at least two cameras are split into
train / val / test; identities seen in one camera only form the distractor set; the sets are
identity-disjoint and, in GREW, camera-disjoint; each test identity contributes four sequences,
two probes and two gallery. The same holds here, with every number a setting, and the split
is a deterministic function of the seed and the rows (it does not depend on row order).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grewkit.core.errors import GrewkitError
from grewkit.split.settings import SplitSettings

SPLITS = ("train", "val", "test", "distractor")
ROLES = ("probe", "gallery")
# Stand-in camera for sequences whose camera is unknown: they still count as one camera.
UNKNOWN_CAMERA = "\x00unknown"


@dataclass
class SplitResult:
    table: pa.Table  # the splits manifest
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> number of sequences left out
    notes: list[str] = field(default_factory=list)
    camera_groups: dict[str, list[str]] = field(default_factory=dict)  # set -> cameras, when camera-disjoint


def _targets(n: int, settings: SplitSettings) -> list[int]:
    """Identity counts wanted for train, val, test out of ``n`` eligible identities."""
    ratios = np.asarray(settings.ratios, dtype=float)
    by_ratio = np.floor(n * ratios / ratios.sum()).astype(int)
    test = settings.test_identities or int(by_ratio[2])
    val = int(by_ratio[1]) if settings.val_identities < 0 else settings.val_identities
    if settings.train_identities:
        train = settings.train_identities
    else:
        train = max(n - test - val, 0) if ratios[0] > 0 else 0
    return [train, val, test]


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *(zlib.crc32(p.encode()) for p in parts)])


def _round_robin(groups: list[list[int]], k: int) -> list[int]:
    """Up to ``k`` items taken one per group in turn, so picks spread over cameras."""
    out: list[int] = []
    depth = 0
    while len(out) < k and any(depth < len(g) for g in groups):
        for g in groups:
            if depth < len(g) and len(out) < k:
                out.append(g[depth])
        depth += 1
    return out


def choose_probe_gallery(
    cameras: np.ndarray, *, n_seq: int, n_probe: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Indices (into ``cameras``) of the probe and gallery sequences of one test identity.

    Probes and gallery come from disjoint cameras where the identity's sequences allow it;
    otherwise they spread over as many cameras as possible.
    """
    n = len(cameras)
    if n < 2:
        raise GrewkitError("a test identity needs at least two sequences")
    if (
        n < n_seq
    ):  # fewer sequences than asked: keep the probe:gallery proportion (gallery rounds up), one of each at least
        n_probe = min(max(1, n * n_probe // n_seq), n - 1)
        n_seq = n
    n_gallery = n_seq - n_probe
    order = rng.permutation(n)
    cams = {}
    for i in order:
        cams.setdefault(cameras[i], []).append(int(i))
    cam_lists = list(cams.values())
    for shift in range(len(cam_lists)):
        rotated = cam_lists[shift:] + cam_lists[:shift]
        probe_side, gallery_side, count = [], [], 0
        for group in rotated:
            if count < n_probe:
                probe_side.append(group)
                count += len(group)
            else:
                gallery_side.append(group)
        if count >= n_probe and sum(len(g) for g in gallery_side) >= n_gallery:
            return _round_robin(probe_side, n_probe), _round_robin(gallery_side, n_gallery)
    picked = _round_robin(cam_lists, n_seq)
    return picked[:n_probe], picked[n_probe:]


def make_splits(rows: pa.Table, settings: SplitSettings) -> SplitResult:
    """Split ``rows`` (one per sequence: sequence_id, identity_id, camera_id; ids may be null) by the GREW protocol."""
    for col in ("sequence_id", "identity_id", "camera_id"):
        if col not in rows.column_names:
            raise GrewkitError(f"split input lacks column {col!r}")
    rows = rows.select(["sequence_id", "identity_id", "camera_id"]).combine_chunks()
    if pc.count_distinct(rows.column("sequence_id")).as_py() != rows.num_rows:
        raise GrewkitError("split input repeats sequence ids")
    # Sort by sequence id so that the split does not depend on the manifest's row order.
    rows = rows.take(pc.sort_indices(rows, sort_keys=[("sequence_id", "ascending")]))
    n = rows.num_rows
    ident_col = rows.column("identity_id")
    cam_col = rows.column("camera_id")
    labelled = pc.is_valid(ident_col).to_numpy(zero_copy_only=False)
    ident_enc = pc.dictionary_encode(ident_col).combine_chunks()
    cam_enc = pc.dictionary_encode(pc.fill_null(cam_col, UNKNOWN_CAMERA)).combine_chunks()
    id_values = np.asarray(ident_enc.dictionary.to_pylist(), dtype=object)
    cam_values = np.asarray(cam_enc.dictionary.to_pylist(), dtype=object)
    cam_code = cam_enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    cam = cam_values[cam_code]  # the camera per row, for the probe/gallery choice of a few identities
    lab_idx = np.flatnonzero(labelled)
    id_code = ident_enc.indices.to_numpy(zero_copy_only=False)[lab_idx].astype(np.int64)

    # split codes: -1 left out, else an index into SPLITS; role codes: -1 none, else an index into ROLES
    split = np.full(n, -1, dtype=np.int8)
    role = np.full(n, -1, dtype=np.int8)
    result = SplitResult(table=pa.table({}))
    split[~labelled] = SPLITS.index("distractor")
    lab_cam = cam_code[lab_idx]
    n_id = len(id_values)
    pairs = np.unique(id_code.astype(np.int64) * len(cam_values) + lab_cam)
    cams_per_id = np.bincount(pairs // max(len(cam_values), 1), minlength=n_id)
    seqs_per_id = np.bincount(id_code, minlength=n_id)
    eligible = cams_per_id >= settings.min_cameras
    split[lab_idx[~eligible[id_code]]] = SPLITS.index("distractor")

    set_of_id = np.full(n_id, -1, dtype=np.int8)  # 0 train, 1 val, 2 test, -1 not in a set
    rich = seqs_per_id >= settings.sequences_per_test_identity
    elig_ids = np.flatnonzero(eligible)
    targets = _targets(len(elig_ids), settings)

    def pick(candidates: np.ndarray, k: int, key: str, prefer_rich: bool) -> np.ndarray:
        perm = candidates[_rng(settings.seed, key).permutation(len(candidates))]
        if prefer_rich:
            perm = perm[np.argsort(~rich[perm], kind="stable")]
        return perm[:k]

    if not settings.camera_disjoint:
        remaining = elig_ids
        for s, name in ((2, "test"), (1, "val"), (0, "train")):
            chosen = pick(remaining, targets[s], name, prefer_rich=s > 0)
            set_of_id[chosen] = s
            remaining = np.setdiff1d(remaining, chosen)
        if len(remaining):
            result.excluded["eligible identities beyond the asked set sizes"] = int(np.isin(id_code, remaining).sum())
    else:
        group_of_cam, kept_group = _camera_groups(pairs, n_id, len(cam_values), eligible, targets, settings)
        for s, name in ((2, "test"), (1, "val"), (0, "train")):
            candidates = np.flatnonzero(kept_group == s)
            by_ratio = [settings.train_identities == 0, settings.val_identities < 0, settings.test_identities == 0][s]
            k = len(candidates) if by_ratio else min(targets[s], len(candidates))
            set_of_id[pick(candidates, k, name, prefer_rich=s > 0)] = s
            result.camera_groups[name] = sorted(str(c) for c in cam_values[group_of_cam == s] if c != UNKNOWN_CAMERA)
        spanning = eligible & (kept_group < 0)
        if spanning.any():
            result.excluded["identities seen in cameras of two sets (camera-disjoint)"] = int(
                np.isin(id_code, np.flatnonzero(spanning)).sum()
            )
        unused = eligible & (kept_group >= 0) & (set_of_id < 0)
        if unused.any():
            result.excluded["eligible identities beyond the asked set sizes"] = int(
                np.isin(id_code, np.flatnonzero(unused)).sum()
            )
    for s, name in enumerate(("train", "val", "test")):
        got = int((set_of_id == s).sum())
        if got < targets[s]:
            result.notes.append(f"{name}: asked for {targets[s]} identities, {got} available")

    in_set = set_of_id[id_code]
    split[lab_idx[in_set == 0]] = SPLITS.index("train")
    # Test and val identities: a fixed number of sequences each, split into probe and gallery.
    sel = lab_idx[in_set > 0]
    sel_id = id_code[in_set > 0]
    by_id = np.argsort(sel_id, kind="stable")
    sel, sel_id = sel[by_id], sel_id[by_id]
    bounds = np.flatnonzero(np.diff(sel_id)) + 1
    leftover = 0
    code_of_row = np.full(n, -1, dtype=np.int64)
    code_of_row[lab_idx] = id_code
    for group in np.split(sel, bounds) if len(sel) else []:
        identity = str(id_values[code_of_row[group[0]]])
        name = SPLITS.index("test") if set_of_id[code_of_row[group[0]]] == 2 else SPLITS.index("val")
        probes, gallery = choose_probe_gallery(
            cam[group],
            n_seq=settings.sequences_per_test_identity,
            n_probe=settings.probes_per_test_identity,
            rng=_rng(settings.seed, "roles", identity),
        )
        split[group[probes]] = name
        role[group[probes]] = ROLES.index("probe")
        split[group[gallery]] = name
        role[group[gallery]] = ROLES.index("gallery")
        leftover += len(group) - len(probes) - len(gallery)
    if leftover:
        result.excluded["test/val sequences beyond the per-identity count"] = leftover

    keep = pa.array(split >= 0)
    kept = rows.filter(keep)
    split_kept, role_kept = split[split >= 0], role[split >= 0]
    result.table = pa.table(
        {
            "sequence_id": kept.column("sequence_id"),
            "identity_id": kept.column("identity_id"),
            "camera_id": kept.column("camera_id"),
            "split": pa.DictionaryArray.from_arrays(pa.array(split_kept), pa.array(SPLITS)).cast(pa.string()),
            "role": pa.DictionaryArray.from_arrays(pa.array(role_kept, mask=role_kept < 0), pa.array(ROLES)).cast(
                pa.string()
            ),
        }
    )
    return result


def _camera_groups(
    pairs: np.ndarray, n_id: int, n_cam: int, eligible: np.ndarray, targets: list[int], settings: SplitSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Give each camera to train, val or test; return (set of each camera, set of each identity or -1).

    An identity belongs to a set only when all its cameras do. Several random groupings are
    tried (seeded) and the one that best meets the asked set sizes wins.
    """
    pair_id, pair_cam = pairs // n_cam, pairs % n_cam
    elig_pairs = eligible[pair_id]
    pair_id, pair_cam = pair_id[elig_pairs], pair_cam[elig_pairs]
    used_cams = np.unique(pair_cam)
    wanted = [s for s in range(3) if targets[s] > 0]
    need = settings.min_cameras * len(wanted)
    if len(used_cams) < need:
        raise GrewkitError(
            f"camera-disjoint split needs at least {need} cameras ({settings.min_cameras} per non-empty set); "
            f"eligible identities are seen in {len(used_cams)}: set [split] camera_disjoint = false, "
            f"val_identities = 0 or min_cameras lower"
        )
    weights = np.array([max(targets[s], 1) for s in wanted], dtype=float)
    share = settings.min_cameras + np.floor((len(used_cams) - need) * weights / weights.sum()).astype(int)
    share[np.argmax(weights)] += len(used_cams) - share.sum()
    labels = np.repeat(np.array(wanted, dtype=np.int8), share)
    neighbours = _camera_graph(pair_id, pair_cam)
    best = None
    for trial in range(settings.camera_trials):
        rng = _rng(settings.seed, "cameras", str(trial))
        # Even trials walk the camera co-occurrence graph, so cameras that see the same people
        # land in the same set (a site's neighbouring cameras); odd trials shuffle freely.
        order = _walk(used_cams, neighbours, rng) if trial % 2 == 0 else used_cams[rng.permutation(len(used_cams))]
        blocks = np.split(labels, np.cumsum(share)[:-1])
        trial_labels = np.concatenate([blocks[i] for i in rng.permutation(len(blocks))])
        group_of_cam = np.full(n_cam, -1, dtype=np.int8)
        group_of_cam[order] = trial_labels
        g = group_of_cam[pair_cam]
        lo = np.full(n_id, 127, dtype=np.int8)
        hi = np.full(n_id, -1, dtype=np.int8)
        np.minimum.at(lo, pair_id, g)
        np.maximum.at(hi, pair_id, g)
        kept_group = np.where(eligible & (lo == hi), hi, -1).astype(np.int8)
        counts = np.bincount(kept_group[kept_group >= 0], minlength=3)
        score = sum(min(counts[s], targets[s]) / targets[s] for s in wanted) + 1e-9 * counts.sum()
        if best is None or score > best[0]:
            best = (score, group_of_cam, kept_group)
    return best[1], best[2]


def _camera_graph(pair_id: np.ndarray, pair_cam: np.ndarray) -> dict[int, set[int]]:
    """Cameras linked when one identity is seen in both."""
    neighbours: dict[int, set[int]] = {}
    bounds = np.flatnonzero(np.diff(pair_id)) + 1
    for cams in np.split(pair_cam, bounds) if len(pair_cam) else []:
        for c in cams:
            neighbours.setdefault(int(c), set()).update(int(x) for x in cams if x != c)
    return neighbours


def _walk(cameras: np.ndarray, neighbours: dict[int, set[int]], rng: np.random.Generator) -> np.ndarray:
    """A breadth-first order of the cameras from random starts, neighbours in random order."""
    seen: set[int] = set()
    order: list[int] = []
    for start in cameras[rng.permutation(len(cameras))]:
        start = int(start)
        if start in seen:
            continue
        seen.add(start)
        queue = [start]
        while queue:
            c = queue.pop(0)
            order.append(c)
            nxt = sorted(neighbours.get(c, ()) - seen)
            for x in (nxt[i] for i in rng.permutation(len(nxt))):
                seen.add(x)
                queue.append(x)
    return np.asarray(order, dtype=np.int64)
