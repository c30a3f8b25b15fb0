"""The posterior link rule: error rates estimated from the answers, the score calibrated into a
prior, pairs and sets decided by P(same)."""

import json
import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from grewkit.annotate.posterior import fit_posteriors
from grewkit.annotate.resolve import resolve
from grewkit.annotate.settings import AnnotateSettings
from grewkit.core.schemas import get_schema

T = datetime(2026, 1, 1, tzinfo=UTC)


def _simulated_votes(error_rates: dict, pairs: int = 300, seed: int = 0):
    """Pairs whose truth follows their score (a third of them one person, scores overlapping),
    each answered by every annotator with their own error rate."""
    rng = random.Random(seed)
    votes, scores, truth = {}, {}, {}
    for i in range(pairs):
        same = rng.random() < 1 / 3
        pair = (f"a{i:03d}", f"b{i:03d}")
        scores[pair] = rng.gauss(0.8 if same else 0.6, 0.08)
        truth[pair] = same
        votes[pair] = {}
        for annotator, e in error_rates.items():
            right = rng.random() >= e
            votes[pair][(f"t{i}", annotator)] = "same" if same == right else "different"
    return votes, scores, truth


def test_error_rates_are_estimated_from_the_answers_alone():
    rates = {"careful@x": 0.03, "usual@x": 0.10, "sloppy@x": 0.25}
    votes, scores, truth = _simulated_votes(rates)
    fit = fit_posteriors(votes, scores)
    for annotator, e in rates.items():
        assert abs(fit.error_rates[annotator] - e) < 0.05, (annotator, fit.error_rates)
    assert fit.error_rates["careful@x"] < fit.error_rates["usual@x"] < fit.error_rates["sloppy@x"]
    # The calibration rises with the score, and the posteriors are right where they are sure.
    assert fit.calibration["candidate"][1] > 0
    sure = [p for p, q in fit.same.items() if q >= 0.999 or q <= 0.001]
    assert len(sure) > len(votes) / 2
    assert all((fit.same[p] >= 0.5) == truth[p] for p in sure)


def test_few_answers_keep_the_conservative_error_rate():
    # Two answers agreeing with each other cannot make an annotator look infallible.
    votes = {("a", "b"): {("t1", "x@x"): "same", ("t2", "x@x"): "same"}}
    fit = fit_posteriors(votes, {("a", "b"): 0.9})
    assert fit.error_rates["x@x"] >= 0.15
    assert 0.5 < fit.same[("a", "b")] < 0.99


def _tracklets(ids):
    rows = [
        {
            "tracklet_id": t,
            "video_id": f"{t[0]}-v",
            "camera_id": t[0],
            "track_id": i,
            "start_frame": 100 * i,
            "end_frame": 100 * i + 50,
            "n_frames": 51,
            "mean_box_height": 100.0,
            "mean_score": 1.0,
            "kept": True,
            "filter_reason": None,
        }
        for i, t in enumerate(sorted(ids))
    ]
    return pa.Table.from_pylist(rows, schema=get_schema("tracklets").arrow)


def _annotations(answers):
    """answers: (query, candidate, label) in order, each its own task answered by one annotator."""
    rows = []
    for i, (query, candidate, label) in enumerate(answers):
        result = [{"from_name": "cand1", "to_name": "cand1_image", "type": "choices", "value": {"choices": [label]}}]
        rows.append(
            {
                "annotation_id": f"s#{i}",
                "task_key": f"task{i}",
                "task_id": i,
                "query_tracklet_id": query,
                "annotator": "only@x",
                "created_at": T,
                "updated_at": T + timedelta(seconds=i),
                "was_cancelled": False,
                "result_json": json.dumps(result),
                "task_data_json": json.dumps({"query_id": query, "cand1_id": candidate}),
            }
        )
    return pa.Table.from_pylist(rows, schema=get_schema("annotations").arrow)


def _campaign():
    """One annotator: 20 look-alike pairs (score 0.9) answered "same" three times, 40 unlike pairs
    (score 0.5) answered "different" once, plus the pairs under test."""
    answers, scores = [], {}
    for i in range(20):
        pair = (f"A{i:02d}", f"B{i:02d}")
        scores[pair] = 0.9
        answers += [(*pair, "same")] * 3
    for i in range(40):
        pair = (f"A{i:02d}", f"C{i:02d}")
        scores[pair] = 0.5
        answers.append((*pair, "different"))
    return answers, scores


def _decide(extra, extra_scores, **options):
    answers, scores = _campaign()
    answers += extra
    scores |= extra_scores
    ids = {t for q, c, _ in answers for t in (q, c)}
    res = resolve(_annotations(answers), _tracklets(ids), scores=scores, **options)
    return res.state.decisions, res


def test_a_likely_pair_links_on_two_answers_that_the_vote_rule_asks_a_third_time():
    extra = [("D01", "E01", "same"), ("E01", "D01", "same")]
    scores = {("D01", "E01"): 0.9}
    posterior, res = _decide(extra, scores, link_rule="posterior", min_same_votes=3)
    assert posterior[("D01", "E01")] == "linked"
    assert res.report["posterior"]["error_rates"]["only@x"] < 0.15
    votes, _ = _decide(extra, scores, link_rule="votes", min_same_votes=3)
    assert votes[("D01", "E01")] == "pending"


def test_an_unlikely_pair_needs_more_than_three_to_one():
    # Three "same" against one "different" on a pair that scores like the unlike pairs: the vote
    # rule links it, the posterior asks again.
    extra = [("D01", "E01", "same"), ("E01", "D01", "same"), ("D01", "E01", "different"), ("E01", "D01", "same")]
    scores = {("D01", "E01"): 0.5}
    votes, _ = _decide(extra, scores, link_rule="votes", min_same_votes=3)
    assert votes[("D01", "E01")] == "linked"
    posterior, res = _decide(extra, scores, link_rule="posterior")
    assert posterior[("D01", "E01")] == "pending"
    assert res.state.fit.same[("D01", "E01")] < 0.999


def test_one_different_separates_an_unlikely_pair_and_asks_a_likely_one_again():
    extra = [("D01", "E01", "different"), ("D02", "E02", "different")]
    scores = {("D01", "E01"): 0.5, ("D02", "E02"): 0.9}
    decisions, _ = _decide(extra, scores, link_rule="posterior")
    assert decisions[("D01", "E01")] == "separated"
    assert decisions[("D02", "E02")] == "disputed"


def test_a_tie_is_asked_again_whatever_the_score():
    # One "same", one "different": the answers say nothing, and the score alone never separates.
    extra = [("D01", "E01", "same"), ("E01", "D01", "different")]
    decisions, res = _decide(extra, {("D01", "E01"): 0.5}, link_rule="posterior")
    assert res.state.fit.same[("D01", "E01")] < 0.1
    assert decisions[("D01", "E01")] == "disputed"


def test_a_closed_triangle_of_single_answers_links_as_a_set():
    # Middling scores, one "same" per pair: too little alone; together every cut needs two wrong answers.
    extra = [("D01", "E01", "same"), ("E01", "F01", "same"), ("D01", "F01", "same")]
    scores = {("D01", "E01"): 0.7, ("E01", "F01"): 0.7, ("D01", "F01"): 0.7}
    alone, _ = _decide(extra[:1], {("D01", "E01"): 0.7}, link_rule="posterior")
    assert alone[("D01", "E01")] == "pending"
    decisions, res = _decide(extra, scores, link_rule="posterior")
    assert all(decisions[p] == "linked" for p in scores)
    assert res.report["pairs"]["linked_by_agreement"] >= 3


def test_the_link_rule_is_checked():
    with pytest.raises(ValueError, match="link_rule"):
        AnnotateSettings(link_rule="majority")
    with pytest.raises(ValueError, match="posterior_link"):
        AnnotateSettings(posterior_link=1.0)
    answers, scores = _campaign()
    with pytest.raises(ValueError, match="link_rule"):
        resolve(_annotations(answers[:1]), _tracklets({"A00", "B00"}), link_rule="majority")


def test_neighbour_pairs_get_their_own_calibration():
    # Two pieces of one video look more alike than two cameras' views of one person, and most are
    # two people: scored on the candidates' scale, a neighbour pair's score means a lower P(same).
    rng = random.Random(1)
    votes, scores, truth = _simulated_votes({"x@x": 0.1}, pairs=200)
    near = {}
    for i in range(200):
        same = rng.random() < 1 / 8
        pair = (f"n{i:03d}", f"m{i:03d}")
        near[pair] = rng.gauss(0.9 if same else 0.75, 0.04)
        truth[pair] = same
        right = rng.random() >= 0.1
        votes[pair] = {(f"u{i}", "x@x"): "same" if same == right else "different"}
    fit = fit_posteriors(votes, scores, near)
    one_scale = fit_posteriors(votes, {**scores, **near})
    assert fit.calibration["neighbour"][1] > 0
    # A neighbour pair scoring like a likely cross-camera match is a likely two people.
    typical = [p for p, s in near.items() if 0.76 <= s <= 0.8]
    assert typical and all(fit.prior[p] < 0.3 for p in typical)
    assert all(one_scale.prior[p] > fit.prior[p] for p in typical)
    # Two people's pieces answered "same" by mistake stay unlinked; on one scale some link.
    wrong_same = [p for p in near if not truth[p] and "same" in votes[p].values()]
    assert wrong_same and all(fit.same[p] < 0.99 for p in wrong_same)
    linked = [p for p in near if fit.same[p] >= 0.99]
    assert linked and all(truth[p] for p in linked)
