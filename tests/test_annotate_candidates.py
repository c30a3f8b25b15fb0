"""Candidate ranking and annotator media on a real multi-camera world (TUD-Campus as three pseudo-cameras)."""

import cv2
import numpy as np
import pytest
from annotate_world import build_tud_world

from grewkit.annotate.candidates import kept_tracklets, rank_candidates, recall_at_k
from grewkit.annotate.media import make_strip, render_strips
from grewkit.annotate.settings import AnnotateSettings


@pytest.fixture
def tud_cameras(project, shared_data):
    return project, build_tud_world(project, shared_data)


def test_candidates_come_from_other_cameras_and_find_true_matches(tud_cameras):
    project, truth = tud_cameras
    settings = AnnotateSettings(k=5)
    table = rank_candidates(project, settings)
    tracklets = kept_tracklets(project)
    camera = {t.tracklet_id: t.camera_id for t in tracklets}
    rows = table.to_pylist()
    assert rows and all(camera[r["query_tracklet_id"]] != camera[r["candidate_tracklet_id"]] for r in rows)
    per_query = {}
    for r in rows:
        per_query.setdefault(r["query_tracklet_id"], []).append(r)
    for ranked in per_query.values():
        assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
        scores = [r["score"] for r in ranked]
        assert scores == sorted(scores, reverse=True) and len(ranked) <= 5
    recall = recall_at_k(table, truth, tracklets, ks=(1, 5))
    # Colour histograms alone on a real scene: well above chance (1 in ~12 other-camera tracklets).
    assert recall["queries"] == 19
    assert recall["recall@1"] >= 0.5 and recall["recall@5"] >= 0.85, recall


def test_topology_gate(tud_cameras):
    project, _ = tud_cameras
    tracklets = {t.tracklet_id: t for t in kept_tracklets(project)}
    only_ac = rank_candidates(project, AnnotateSettings(k=10, topology={"camA": ["camC"]}))
    for r in only_ac.to_pylist():
        cams = {tracklets[r["query_tracklet_id"]].camera_id, tracklets[r["candidate_tracklet_id"]].camera_id}
        assert cams == {"camA", "camC"}
    assert not any(tracklets[q].camera_id == "camB" for q in only_ac.column("query_tracklet_id").to_pylist())


def test_time_gate_drops_far_apart_tracklets(tud_cameras):
    project, _ = tud_cameras
    # person6 leaves camA at frame 8 (0.8 s); camB starts at 3.5 s: a 0-second gate keeps only overlapping spans.
    gated = rank_candidates(project, AnnotateSettings(k=10, max_gap_s=0.01))
    tracklets = {t.tracklet_id: t for t in kept_tracklets(project)}
    pairs = {
        (tracklets[r["query_tracklet_id"]].camera_id, tracklets[r["candidate_tracklet_id"]].camera_id)
        for r in gated.to_pylist()
    }
    assert ("camA", "camB") not in pairs and ("camA", "camC") in pairs


def test_time_gate_needs_start_times(project, shared_data):
    import pyarrow as pa

    build_tud_world(project, shared_data)
    videos = project.read("videos")
    videos = videos.set_column(
        videos.schema.get_field_index("start_time"),
        "start_time",
        pa.nulls(videos.num_rows, pa.timestamp("us", tz="UTC")),
    )
    project.write("videos", videos)
    from grewkit.core.errors import GrewkitError

    with pytest.raises(GrewkitError, match="start_time"):
        rank_candidates(project, AnnotateSettings(max_gap_s=5.0))


def test_strips_are_face_masked_jpegs(tud_cameras):
    project, _ = tud_cameras
    ids = [t.tracklet_id for t in kept_tracklets(project)][:3]
    paths = render_strips(project, ids, frames=4, height=120)
    for t in ids:
        image = cv2.imread(str(project.root / paths[t]))
        assert image is not None and image.shape[0] == 120 and image.shape[1] > 120
    # Rerun: nothing rewritten.
    mtimes = {t: (project.root / paths[t]).stat().st_mtime_ns for t in ids}
    render_strips(project, ids, frames=4, height=120)
    assert mtimes == {t: (project.root / paths[t]).stat().st_mtime_ns for t in ids}


def test_strip_tiles_have_the_head_masked_and_the_legs_untouched():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (200, 100, 3), dtype=np.uint8)
    strip = make_strip([(crop, (10.0, 10.0, 90.0, 190.0))], height=200)
    head, legs = (slice(15, 40), slice(25, 75)), (slice(120, 200), slice(0, 100))
    assert np.abs(strip[head].astype(int) - crop[head].astype(int)).mean() > 20
    assert np.array_equal(strip[legs], crop[legs])


def test_unknown_tracklet_is_a_clear_error(tud_cameras):
    project, _ = tud_cameras
    from grewkit.core.errors import GrewkitError

    with pytest.raises(GrewkitError, match="not in the tracklets manifest"):
        render_strips(project, ["nope"], frames=2, height=50)


def test_gei_similarity_is_used_when_renders_exist(tud_cameras):
    """GEIs (here: one pattern per true identity plus noise, as .npy files in the sequences manifest)
    drive the ranking alone, and combine with appearance."""
    import pyarrow as pa

    from grewkit.core.arrays import save_array
    from grewkit.core.schemas import get_schema

    project, truth = tud_cameras
    rng = np.random.default_rng(1)
    patterns = {p: rng.random((64, 44)).astype(np.float32) for p in sorted(set(truth.values()))}
    rows = []
    for t in kept_tracklets(project):
        gei = np.clip(patterns[truth[t.tracklet_id]] + 0.05 * rng.standard_normal((64, 44)), 0, 1).astype(np.float32)
        rel = f"renders/{t.camera_id}/{t.tracklet_id}/gei64.npy"
        digest = save_array(project.root / rel, gei)
        rows.append(
            {
                "sequence_id": t.tracklet_id,
                "modality": "gei64",
                "tracklet_id": t.tracklet_id,
                "identity_id": None,
                "camera_id": t.camera_id,
                "view": None,
                "condition": None,
                "path": rel,
                "frames": 1,
                "height": 64,
                "width": 44,
                "sha256": digest,
            }
        )
    schema = get_schema("sequences")
    project.write(
        "sequences",
        pa.Table.from_pylist([{c: r.get(c) for c in schema.column_names} for r in rows], schema=schema.arrow),
    )
    tracklets = kept_tracklets(project)
    gei_only = rank_candidates(project, AnnotateSettings(k=3, embedders=["gei"]))
    assert recall_at_k(gei_only, truth, tracklets, ks=(1,))["recall@1"] == 1.0
    assert set(gei_only.column("method").to_pylist()) == {gei_only.column("method")[0].as_py()}
    both = rank_candidates(project, AnnotateSettings(k=3, embedders=["appearance", "gei"]))
    assert recall_at_k(both, truth, tracklets, ks=(1,))["recall@1"] == 1.0
    assert both.column("method")[0].as_py().startswith("appearance+gei@")


def test_pieces_of_one_walk_are_neighbours_scored_above_two_people(project, shared_data):
    # camA's tracker loses everyone for 1 s and finds them again: each walk seen on both sides is
    # two pieces, and every person's two pieces are neighbours. On the candidates' similarity a
    # person's two pieces mostly score above two people's (colour histograms of TUD's small,
    # crossing walkers: measured 0.92 of (one person, two people) pairs ordered right, means 0.91
    # against 0.74), which is what the resolver's neighbour calibration learns from.
    from grewkit.annotate.campaign import compute_candidates, read_neighbours
    from grewkit.annotate.candidates import neighbour_lists, neighbour_scores

    truth = build_tud_world(project, shared_data, lost=("camA", 15, 25))
    compute_candidates(project, show_progress=False)
    neighbours = read_neighbours(project)
    rows = neighbours.to_pylist()
    assert rows and all(r["first_tracklet_id"].split("-t")[0] == r["second_tracklet_id"].split("-t")[0] for r in rows)
    lists = neighbour_lists(neighbours)
    split = [t for t in truth if t.endswith("b") and t[:-1] in truth]
    assert len(split) >= 3
    for later in split:
        assert later[:-1] in lists[later]
        gap = next(r["gap_s"] for r in rows if {r["first_tracklet_id"], r["second_tracklet_id"]} == {later[:-1], later})
        assert gap >= 1.0
    scores = neighbour_scores(neighbours)
    one = [s for (a, b), s in scores.items() if truth[a] == truth[b]]
    two = [s for (a, b), s in scores.items() if truth[a] != truth[b]]
    assert len(one) == len(split) and two
    ordered = sum(o > t for o in one for t in two) / (len(one) * len(two))
    assert ordered >= 0.85 and np.mean(one) > np.mean(two) + 0.1, (ordered, one, two)
