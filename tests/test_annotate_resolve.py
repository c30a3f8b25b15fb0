"""Identity resolution from raw annotations: links, contradictions held out, attributes, agreement."""

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from grewkit.annotate.resolve import UnionFind, identity_accuracy, resolve
from grewkit.annotate.timeline import Timeline
from grewkit.core.schemas import get_schema

T = datetime(2026, 1, 1, tzinfo=UTC)


def _tracklets(spec):
    """spec: tracklet -> (camera, start, end); one video per camera."""
    rows = [
        {
            "tracklet_id": t,
            "video_id": f"{c}-v",
            "camera_id": c,
            "track_id": i,
            "start_frame": s,
            "end_frame": e,
            "n_frames": e - s + 1,
            "mean_box_height": 100.0,
            "mean_score": 1.0,
            "kept": True,
            "filter_reason": None,
        }
        for i, (t, (c, s, e)) in enumerate(spec.items())
    ]
    return pa.Table.from_pylist(rows, schema=get_schema("tracklets").arrow)


def _ann(i, query, candidates, *, annotator="a@x", links=(), attrs=None, cancelled=False, minutes=0):
    data = {"query_id": query, **{f"cand{k + 1}_id": c for k, c in enumerate(candidates)}}
    result = [
        {"from_name": f"cand{k + 1}", "to_name": f"cand{k + 1}_image", "type": "choices", "value": {"choices": [label]}}
        for k, label in enumerate(links)
        if label
    ]
    for name, values in (attrs or {}).items():
        result.append({"from_name": name, "to_name": "query", "type": "choices", "value": {"choices": values}})
    return {
        "annotation_id": f"s#{i}",
        "task_key": query,
        "task_id": i,
        "query_tracklet_id": query,
        "annotator": annotator,
        "created_at": T,
        "updated_at": T + timedelta(minutes=minutes),
        "was_cancelled": cancelled,
        "result_json": json.dumps(result),
        "task_data_json": json.dumps(data),
    }


def _table(rows):
    return pa.Table.from_pylist(rows, schema=get_schema("annotations").arrow)


def _identity(res):
    return {r["tracklet_id"]: (r["identity_id"], r["status"], r["reason"]) for r in res.identities.to_pylist()}


def test_union_find_roots_are_order_independent():
    a, b = UnionFind(), UnionFind()
    for x, y in [("c", "b"), ("b", "a"), ("d", "e")]:
        a.union(x, y)
    for x, y in [("d", "e"), ("a", "b"), ("b", "c")]:
        b.union(x, y)
    assert a.groups() == b.groups() == {"a": ["a", "b", "c"], "d": ["d", "e"]}


def test_chain_of_same_links_becomes_one_identity():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "B2": ("B", 20, 29)})
    rows = [_ann(1, "A1", ["B1", "B2"], links=["same", "different"]), _ann(2, "B1", ["C1"], links=["same"])]
    res = resolve(_table(rows), tracks)
    ids = _identity(res)
    assert ids["A1"] == ids["B1"] == ids["C1"] == ("id-A1", "resolved", None)
    assert ids["B2"] == ("id-B2", "resolved", None)
    assert res.report["conflicts"] == [] and res.report["identities"] == 2


def test_transitive_contradiction_is_reported_and_held_out():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "D1": ("D", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1", "C1"], links=["same", "different"]),
        _ann(2, "B1", ["C1"], links=["same"]),
        _ann(3, "D1", ["A1"], links=["different"]),
    ]
    res = resolve(_table(rows), tracks)
    ids = _identity(res)
    for t in ("A1", "B1", "C1"):
        assert ids[t][1] == "held_out" and "A1 != C1" in ids[t][2]
    assert ids["D1"][1] == "resolved"
    assert res.report["conflict_counts"] == {"linked_but_different": 1}
    assert res.report["held_out_tracklets"] == 3


def test_two_tracklets_of_one_camera_at_the_same_time_are_held_out():
    # B1 and B2 overlap in time in camera B: one person cannot be both.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "B2": ("B", 5, 15)})
    rows = [_ann(1, "A1", ["B1", "B2"], links=["same", "same"])]
    res = resolve(_table(rows), tracks)
    assert {v[1] for v in _identity(res).values()} == {"held_out"}
    assert res.report["conflict_counts"] == {"same_camera_same_time": 1}


def test_same_camera_at_different_times_is_fine():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "B2": ("B", 20, 29)})
    res = resolve(_table([_ann(1, "A1", ["B1", "B2"], links=["same", "same"])]), tracks)
    assert {v[1] for v in _identity(res).values()} == {"resolved"}


def _detected(frames):
    """A Timeline whose camera-B boxes were detected in ``frames`` (tracklet -> frames)."""
    return Timeline(detected=lambda camera: {t: np.array(f) for t, f in frames.items()} if camera == "B" else {})


def test_interleaved_pieces_of_one_walk_in_one_camera_can_be_one_person():
    # B1 and B2 take turns on one walker (spans overlap, never a detection in one frame): the
    # spans alone call them two people; their detected frames show one person could be both.
    tracks = _tracklets({"A1": ("A", 0, 20), "B1": ("B", 0, 20), "B2": ("B", 8, 30)})
    timeline = _detected({"B1": [*range(0, 8), *range(14, 21)], "B2": [*range(8, 14), *range(21, 31)]})
    rows = [_ann(1, "A1", ["B1", "B2"], links=["same", "same"])]
    res = resolve(_table(rows), tracks, timeline=timeline)
    ids = _identity(res)
    assert ids["A1"] == ids["B1"] == ids["B2"] and ids["A1"][1] == "resolved"
    assert res.report["conflict_counts"] == {}
    # One frame detected in both is two people at once: held out, as with the spans.
    timeline = _detected({"B1": [*range(0, 8), *range(13, 21)], "B2": [*range(8, 14), *range(21, 31)]})
    res = resolve(_table(rows), tracks, timeline=timeline)
    assert res.report["conflict_counts"] == {"same_camera_same_time": 1}


def test_timeline_counts_detected_frames_only_and_falls_back_to_spans():
    rows = {
        r["tracklet_id"]: r
        for r in _tracklets({"B1": ("B", 0, 20), "B2": ("B", 8, 30), "B3": ("B", 40, 50)}).to_pylist()
    }
    timeline = _detected({"B1": [0, 1, 2, 20], "B2": [8, 30]})
    assert not timeline.seen_together(rows["B1"], rows["B2"])
    assert not timeline.seen_together(rows["B1"], rows["B3"])  # spans apart
    assert Timeline().seen_together(rows["B1"], rows["B2"])  # no boxes: the spans decide
    assert _detected({"B1": [5]}).seen_together(rows["B1"], rows["B2"])  # B2's boxes unknown


def test_neighbours_are_pieces_of_one_video_close_in_time_and_never_seen_together():
    rows = {
        r["tracklet_id"]: r
        for r in _tracklets(
            {"B1": ("B", 0, 20), "B2": ("B", 8, 30), "B3": ("B", 40, 50), "B4": ("B", 100, 120), "C1": ("C", 21, 30)}
        ).to_pylist()
    }
    timeline = Timeline(
        detected=lambda camera: {"B1": np.arange(0, 21), "B2": np.arange(8, 31)} if camera == "B" else {},
        fps={"B-v": 10.0, "C-v": 10.0},
    )
    # B1 and B2 share detected frames (two people); B3 starts 1 s after B2, 2 s after B1; B4 is 5 s on.
    assert timeline.neighbours(rows, 2.0) == {"B1": ["B3"], "B3": ["B2", "B1"], "B2": ["B3"]}
    assert timeline.neighbours(rows, 0.0) == {}
    assert Timeline().neighbours(rows, 2.0) == {}  # no fps: nothing to measure the gap in


def test_tied_votes_are_a_conflict_not_a_link_and_agreement_is_counted():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1"], annotator="a@x", links=["same"]),
        _ann(2, "A1", ["B1"], annotator="b@x", links=["different"]),
    ]
    res = resolve(_table(rows), tracks)
    ids = _identity(res)
    assert ids["A1"][0] != ids["B1"][0]
    assert res.report["conflict_counts"] == {"annotators_disagree": 1}
    assert res.report["agreement"]["links"] == {
        "items": 1,
        "mean_pairwise_agreement": 0.0,
        "items_with_disagreement": 1,
    }


def test_majority_wins_and_latest_answer_per_annotator_counts():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1"], annotator="a@x", links=["different"], minutes=0),
        _ann(2, "A1", ["B1"], annotator="a@x", links=["same"], minutes=5),  # a@x corrected themself
        _ann(3, "A1", ["B1"], annotator="b@x", links=["same"]),
        _ann(4, "A1", ["B1"], annotator="c@x", links=["different"]),
    ]
    res = resolve(_table(rows), tracks)
    ids = _identity(res)
    assert ids["A1"][0] == ids["B1"][0]
    assert res.report["pairs"] == {"linked": 1, "separated": 0, "disputed": 0}


def test_skips_and_unsure_give_no_links():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [_ann(1, "A1", ["B1"], cancelled=True), _ann(2, "C1", ["B1"], links=["unsure"])]
    res = resolve(_table(rows), tracks)
    assert res.report["skipped_tasks"] == 1
    assert res.report["pairs"] == {"linked": 0, "separated": 0, "disputed": 0}
    assert set(_identity(res)) == {"C1"}


def test_attributes_per_tracklet_and_identity_with_disagreements():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9)})
    rows = [
        _ann(
            1,
            "A1",
            ["B1"],
            annotator="a@x",
            links=["same"],
            attrs={"gender": ["female"], "carrying": ["backpack", "handbag"]},
        ),
        _ann(2, "A1", ["B1"], annotator="b@x", links=["same"], attrs={"gender": ["male"], "carrying": ["backpack"]}),
        _ann(3, "B1", ["A1"], annotator="a@x", links=["same"], attrs={"gender": ["female"]}),
    ]
    res = resolve(_table(rows), tracks)
    rows = {
        (r["level"], r["subject_id"], r["attribute"], r["value"]): (r["votes"], r["total"])
        for r in res.attributes.to_pylist()
    }
    assert rows[("tracklet", "A1", "gender", "female")] == (1, 2)
    assert rows[("tracklet", "A1", "gender", "male")] == (1, 2)
    assert rows[("tracklet", "A1", "carrying", "backpack")] == (2, 2)
    assert rows[("identity", "id-A1", "gender", "female")] == (2, 3)
    assert res.report["attribute_disagreements"] == {"gender": 1}
    assert res.report["agreement"]["attributes"]["items_with_disagreement"] == 2  # gender and carrying on A1


def test_identity_accuracy_counts_pairs():
    ids = pa.table(
        {
            "tracklet_id": ["a", "b", "c", "d"],
            "identity_id": ["i1", "i1", "i1", "i2"],
            "source": ["annotation"] * 4,
            "status": ["resolved"] * 4,
            "reason": [None] * 4,
        }
    )
    acc = identity_accuracy(ids, {"a": "p1", "b": "p1", "c": "p2", "d": "p2"})
    assert acc["linked_pairs"] == 3 and abs(acc["pair_precision"] - 1 / 3) < 1e-9 and acc["pair_recall"] == 0.5


def test_a_set_is_confirmed_only_when_every_cut_is_strong_not_only_the_lightest():
    # Posterior rule: a cut links when its pairs' evidence plus the log prior odds of its likeliest
    # pair reach posterior_link. B = A is likely and answered less (evidence 4, prior log-odds +1:
    # strong), A = C unlikely and answered more (6, -3: weak). The lightest cut (B off) is strong,
    # the heavier one (C off) is not, so C stays pending and only A = B links.
    import math

    from grewkit.annotate.resolve import _confirm_by_agreement

    evidence = {("A", "B"): 4.0, ("A", "C"): 6.0}
    prior = {("A", "B"): 1.0, ("A", "C"): -3.0}

    def strong_enough(across):
        return bool(across) and sum(evidence[p] for p in across) + max(prior[p] for p in across) >= math.log(99)

    decisions = dict.fromkeys(evidence, "pending")
    assert _confirm_by_agreement(decisions, evidence, strong_enough) == 1
    assert decisions == {("A", "B"): "linked", ("A", "C"): "pending"}
