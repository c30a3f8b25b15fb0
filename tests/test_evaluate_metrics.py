"""Metrics against hand-computed cases, and the chunked search against a brute-force ranking."""

import numpy as np
import pytest

from grewkit.core.errors import GrewkitError
from grewkit.evaluate.distances import pairwise
from grewkit.evaluate.metrics import Conventions, FeatureSet, RetrievalEvaluator, evaluate_retrieval
from grewkit.evaluate.search import SearchConfig, encode, search


def fs(values, labels, cameras=None, views=None):
    x = np.asarray(values, dtype=np.float32).reshape(len(values), -1)
    return FeatureSet([f"s{i}" for i in range(len(values))], x, list(labels), cameras, views)


GALLERY = fs([0, 1, 2, 3, 4], ["a", "b", "a", "c", "b"])


def test_hand_computed_ranks_ap_inp():
    # Probe a at 0.25: a .25, b .75, a 1.75, c 2.75, b 3.75: a at ranks 1, 3.
    # Probe b at 2.75: c .25, a .75, b 1.25, b 1.75, a 2.75: b at ranks 3, 4.
    probes = fs([0.25, 2.75], ["a", "b"])
    ev = RetrievalEvaluator(GALLERY, Conventions(ranks=(1, 3, 5)))
    ev.process(probes)
    per = ev.per_probe()
    assert per.ranks.tolist() == [[1, 3], [3, 4]]
    m = ev.evaluate()
    assert m["rank1"] == pytest.approx(50.0)
    assert m["rank3"] == pytest.approx(100.0)
    ap = [(1 / 1 + 2 / 3) / 2, (1 / 3 + 2 / 4) / 2]
    inp = [2 / 3, 2 / 4]
    assert m["mAP"] == pytest.approx(100 * np.mean(ap))
    assert m["mINP"] == pytest.approx(100 * np.mean(inp))


def test_probe_without_match_is_a_miss_or_skipped():
    probes = fs([0.25, 2.0], ["a", "zzz"])
    miss = evaluate_retrieval(probes, GALLERY, Conventions(no_match="miss"))
    skip = evaluate_retrieval(probes, GALLERY, Conventions(no_match="skip"))
    ap_a = (1 + 2 / 3) / 2
    assert miss["probes_without_match"] == 1 and miss["probes_counted"] == 2
    assert miss["rank1"] == pytest.approx(50.0) and miss["mAP"] == pytest.approx(100 * ap_a / 2)
    assert skip["probes_counted"] == 1
    assert skip["rank1"] == pytest.approx(100.0) and skip["mAP"] == pytest.approx(100 * ap_a)
    assert skip["mINP"] == pytest.approx(100 * 2 / 3)


@pytest.mark.parametrize("use_numba", [True, False])
def test_ties_pessimistic_and_optimistic(use_numba):
    cfg = SearchConfig(use_numba=use_numba)
    # Probe x at 1: negative (z at 0) and true match (x at 2) both at distance 1.
    gallery = fs([0, 2, 5], ["z", "x", "x"])
    probes = fs([1], ["x"])
    pes = evaluate_retrieval(probes, gallery, Conventions(ties="pessimistic", ranks=(1, 2)), cfg)
    opt = evaluate_retrieval(probes, gallery, Conventions(ties="optimistic", ranks=(1, 2)), cfg)
    assert pes["rank1"] == 0.0 and pes["rank2"] == 100.0
    assert pes["mAP"] == pytest.approx(100 * (1 / 2 + 2 / 3) / 2)
    assert opt["rank1"] == 100.0
    assert opt["mAP"] == pytest.approx(100 * (1 / 1 + 2 / 3) / 2)
    # Identical features everywhere: a constant model must not score 100 %.
    const = evaluate_retrieval(
        fs([[1.0, 2.0]], ["x"]), fs([[1.0, 2.0]] * 4, ["y", "y", "y", "x"]), Conventions(ranks=(1,)), cfg
    )
    assert const["rank1"] == 0.0 and const["mAP"] == pytest.approx(25.0)


def test_same_camera_exclusion():
    gallery = fs([0, 1, 3], ["a", "a", "b"], cameras=["c1", "c2", "c1"])
    probes = fs([0], ["a"], cameras=["c1"])
    none = RetrievalEvaluator(gallery, Conventions(exclude="none"))
    none.process(probes)
    assert none.per_probe().ranks.tolist() == [[1, 2]]
    cam = RetrievalEvaluator(gallery, Conventions(exclude="same-camera"))
    cam.process(probes)
    # Only the c2 entry is left (the c1 true match and the c1 negative are gone).
    assert cam.per_probe().n_pos.tolist() == [1] and cam.per_probe().ranks[0, 0] == 1
    with pytest.raises(GrewkitError, match="view"):
        evaluate_retrieval(probes, gallery, Conventions(exclude="same-view"))


def test_distances_formulas():
    q = np.array([[[3.0, 4.0], [0.0, 1.0]]], dtype=np.float32)  # one probe, 2 parts
    g = np.zeros((1, 2, 2), dtype=np.float32)
    assert pairwise(q, g, "euclidean")[0, 0].item() == pytest.approx(np.sqrt(26))
    assert pairwise(q, g, "euclidean_parts")[0, 0].item() == pytest.approx((5 + 1) / 2)
    a = np.array([[1.0, 0.0]], np.float32)
    b = np.array([[0.0, 2.0], [3.0, 0.0]], np.float32)
    assert pairwise(a, b, "cosine").numpy()[0].tolist() == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize(
    "distance,use_numba", [("euclidean", True), ("euclidean", False), ("cosine", True), ("euclidean_parts", False)]
)
def test_chunked_search_equals_brute_force(distance, use_numba):
    rng = np.random.default_rng(0)
    g = rng.normal(size=(257, 3, 4)).astype(np.float32)
    q = rng.normal(size=(33, 3, 4)).astype(np.float32)
    gl = rng.integers(0, 20, size=257)
    gl[100:] = -2  # distractors after the first checkpoint: every true match lies in the prefix
    ql = rng.integers(0, 22, size=33)  # labels 20, 21 have no gallery
    gk = rng.integers(0, 3, size=257)
    qk = rng.integers(0, 3, size=33)
    cfg = SearchConfig(distance=distance, topk=7, probe_chunk=8, gallery_chunk=50, use_numba=use_numba)
    res = search(
        q, g, probe_labels=ql, gallery_labels=gl, config=cfg, probe_keys=qk, gallery_keys=gk, checkpoints=[100, 257]
    )
    d = pairwise(q, g, distance).numpy()
    for cp_i, cp in enumerate([100, 257]):
        for i in range(len(q)):
            keep = gk[:cp] != qk[i]
            di = np.where(keep, d[i, :cp], np.inf)
            order = np.argsort(di, kind="stable")
            pos = [r + 1 for r, j in enumerate(order) if keep[j] and gl[j] == ql[i]]
            if cp == 257:
                assert res.n_pos[i] == len(pos)
            got = res.pos_ranks[cp_i, i, : len(pos)].tolist()
            assert got == pos, (i, cp)
    full = np.where(gk[None, :] != qk[:, None], d, np.inf)
    assert np.array_equal(res.topk_index, np.argsort(full, axis=1, kind="stable")[:, :7])
    assert np.allclose(res.topk_distance, np.sort(full, axis=1)[:, :7], atol=1e-5)


def test_bad_inputs_are_named():
    with pytest.raises(GrewkitError, match="no_match"):
        Conventions(no_match="ignore")
    with pytest.raises(GrewkitError, match="unknown distance"):
        Conventions(distance="manhattan")
    pl, gl = encode(["a"], ["a"])
    with pytest.raises(GrewkitError, match="shape"):
        search(np.zeros((1, 3), np.float32), np.zeros((1, 4), np.float32), probe_labels=pl, gallery_labels=gl)


def test_fused_and_torch_paths_agree_exactly_at_scale():
    # Float32 keys in the same order on both paths: no rank differs even for entries at a threshold's edge.
    rng = np.random.default_rng(0)
    q = rng.standard_normal((300, 256), dtype=np.float32)
    g = rng.standard_normal((40000, 256), dtype=np.float32)
    ql, gl = rng.integers(0, 500, 300), np.arange(40000) % 1000
    a = search(q, g, probe_labels=ql, gallery_labels=gl, config=SearchConfig(topk=20, gallery_chunk=8192))
    b = search(
        q, g, probe_labels=ql, gallery_labels=gl, config=SearchConfig(topk=20, gallery_chunk=8192, use_numba=False)
    )
    assert np.array_equal(a.pos_ranks, b.pos_ranks)
    assert np.array_equal(a.topk_index, b.topk_index) and np.array_equal(a.topk_distance, b.topk_distance)


def test_convention_names_match_the_implementations():
    from grewkit.evaluate.conventions import DISTANCE_NAMES
    from grewkit.evaluate.distances import DISTANCES

    assert tuple(DISTANCES) == DISTANCE_NAMES


def test_opening_a_project_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from grewkit.core.project import Project; Project.init(sys.argv[1]); "
        "Project.open(sys.argv[1]); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("use_numba", [True, False])
@pytest.mark.parametrize("distance", ["euclidean", "euclidean_parts", "cosine"])
def test_near_ties_only_within_float32_rounding(use_numba, distance):
    # A negative just farther than the true match (its difference to the probe 3e-5 longer) is not a
    # tie: about 14x float32 rounding for these keys, inside the old 1e-5 x (|q|^2 + max |g|^2) and
    # 2e-5 tolerances, which counted it ahead of the true match. An exact duplicate still ties.
    rng = np.random.default_rng(0)
    q = rng.normal(size=(1, 4, 64)).astype(np.float32)
    pos = q + 0.5 * rng.normal(size=q.shape).astype(np.float32)
    d_pos = float(pairwise(q, pos, distance)[0, 0])
    neg = (q + (pos - q) * (1 + 3e-5)).astype(np.float32)
    d_neg = float(pairwise(q, neg, distance)[0, 0])
    assert d_neg > d_pos
    cfg = SearchConfig(distance=distance, use_numba=use_numba)
    probes = FeatureSet(["p"], q, ["x"])
    near = FeatureSet(["t", "n"], np.concatenate([pos, neg]), ["x", "z"])
    assert evaluate_retrieval(probes, near, Conventions(distance=distance, ranks=(1,)), cfg)["rank1"] == 100.0
    dup = FeatureSet(["t", "n"], np.concatenate([pos, pos]), ["x", "z"])
    assert evaluate_retrieval(probes, dup, Conventions(distance=distance, ranks=(1,)), cfg)["rank1"] == 0.0
    assert (
        evaluate_retrieval(probes, dup, Conventions(distance=distance, ties="optimistic", ranks=(1,)), cfg)["rank1"]
        == 100.0
    )


def test_ccpg_exclusion_drops_only_same_identity_same_camera():
    # Probe a seen by c1. Gallery: a by c1 (nearest; dropped), b by c1 (kept: another identity),
    # a by c2 (the true match that counts).
    gallery = fs([0, 1, 2], ["a", "b", "a"], cameras=["c1", "c1", "c2"])
    probes = fs([0], ["a"], cameras=["c1"])
    ccpg = RetrievalEvaluator(gallery, Conventions(exclude="same-identity-camera"))
    ccpg.process(probes)
    assert ccpg.per_probe().ranks.tolist()[0][0] == 2  # b at distance 1 stays ahead of a at 2
    cam = RetrievalEvaluator(gallery, Conventions(exclude="same-camera"))
    cam.process(probes)
    assert cam.per_probe().ranks.tolist()[0][0] == 1  # same-camera also removes b
    with pytest.raises(GrewkitError, match="camera"):
        evaluate_retrieval(fs([0], ["a"]), fs([1], ["a"]), Conventions(exclude="same-identity-camera"))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_tiled_threads_equal_the_block_path_bit_for_bit(distance):
    # Small tiles on two worker threads: many tiles per chunk, tails joined to the tile before, checkpoint
    # snapshots between chunks, exclusion codes and the top k; every number equals the plain-torch block path.
    import torch

    rng = np.random.default_rng(3)
    q = rng.standard_normal((203, 64), dtype=np.float32)
    g = rng.standard_normal((3001, 64), dtype=np.float32)
    ql, gl = rng.integers(0, 300, 203), np.arange(3001) % 400
    qk, gk = rng.integers(0, 3, 203), rng.integers(0, 3, 3001)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cfg = SearchConfig(distance=distance, topk=9, gallery_chunk=700, tile_rows=12, tile_cols=48)
        kw = dict(probe_labels=ql, gallery_labels=gl, probe_keys=qk, gallery_keys=gk, checkpoints=[1500, 3001])
        a = search(q, g, config=cfg, **kw)
        assert torch.get_num_threads() == 2  # the workers' one-thread BLAS setting does not leak out
        b = search(q, g, config=SearchConfig(distance=distance, topk=9, gallery_chunk=700, use_numba=False), **kw)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(a.pos_ranks, b.pos_ranks) and a.pos_ranks[-1].max() > 0
    assert np.array_equal(a.topk_index, b.topk_index) and np.array_equal(a.topk_distance, b.topk_distance)


@pytest.mark.parametrize("threads", [1, 2])
def test_matrix_products_round_alike_from_the_least_tile_up(threads):
    # The fused search relies on this (search._LEAST_ROWS/_LEAST_COLS): a BLAS that rounds a tile
    # differently from a large block would make the two paths disagree at ties.
    import torch

    from grewkit.evaluate.search import _LEAST_COLS, _LEAST_ROWS

    rng = np.random.default_rng(4)
    a = torch.from_numpy(rng.standard_normal((600, 256), dtype=np.float32))
    b = torch.from_numpy(rng.standard_normal((5000, 256), dtype=np.float32))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    ref = a @ b.T
    torch.set_num_threads(threads)
    try:
        for m in range(_LEAST_ROWS, _LEAST_ROWS + 30):
            for n in (_LEAST_COLS, _LEAST_COLS + 7, 100, 1024, 1039):
                assert torch.equal(a[5 : 5 + m] @ b[7 : 7 + n].T, ref[5 : 5 + m, 7 : 7 + n]), (m, n)
        assert torch.equal(a[:600] @ b[:_LEAST_COLS].T, ref[:, :_LEAST_COLS])
    finally:
        torch.set_num_threads(before)


def test_tiles_smaller_than_the_blas_minimum_are_refused():
    with pytest.raises(GrewkitError, match="tile_rows"):
        SearchConfig(tile_rows=2)
