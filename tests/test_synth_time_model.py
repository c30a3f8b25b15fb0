"""The simulated annotators' time model: seeded, longer with more to look at, median as written down."""

from __future__ import annotations

import random
import statistics

from grewkit.synth.annotators import TimeModel, choice


def _task(candidates: int, slots: int = 5) -> dict:
    data = {"query_id": "q"}
    for i in range(1, slots + 1):
        data[f"cand{i}_id"] = f"c{i}" if i <= candidates else ""
    return data


def test_the_same_seed_gives_the_same_seconds():
    model = TimeModel()
    a = [model.lead_time(_task(3), [], random.Random(7)) for _ in range(3)]
    assert len(set(a)) == 1
    b = random.Random(7)
    c = random.Random(8)
    assert [model.lead_time(_task(3), [], b) for _ in range(5)] != [model.lead_time(_task(3), [], c) for _ in range(5)]


def test_median_follows_the_written_model():
    model = TimeModel()
    attributes = [choice("gender", "query", ["male"]), choice("upper", "query", ["sleeveless"])]
    links = [choice("cand1", "cand1_image", ["same"])]
    for shown, result, answered_attributes in ((0, [], 0), (1, links, 0), (5, links + attributes, 2)):
        rng = random.Random(shown)
        draws = [model.lead_time(_task(shown), result, rng) for _ in range(4000)]
        expected = model.base_s + model.per_candidate_s * shown + model.per_attribute_s * answered_attributes
        # exp(N(0, sigma)) has median 1: the median draw is the noiseless time (within sampling error).
        assert abs(statistics.median(draws) / expected - 1) < 0.04, (shown, statistics.median(draws), expected)
        assert min(draws) > 0
    # Empty slots show a placeholder: nothing to compare, no time.
    rng1, rng2 = random.Random(1), random.Random(1)
    assert model.lead_time(_task(2, slots=2), [], rng1) == model.lead_time(_task(2, slots=6), [], rng2)
