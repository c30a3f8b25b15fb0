"""The synthetic world without video: cameras, identities, gait parameters, schedule."""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.synth.body import AGE_GROUPS, CARRYING, GENDERS, LOWER, UPPER, J, coco17
from grewkit.synth.world import SynthConfig, build_world


@pytest.fixture(scope="module")
def world():
    return build_world(SynthConfig(cameras=4, identities=40, seconds=60, seed=0))


def test_same_seed_same_world_other_seed_other_world(world):
    again = build_world(SynthConfig(cameras=4, identities=40, seconds=60, seed=0))
    other = build_world(SynthConfig(cameras=4, identities=40, seconds=60, seed=1))
    assert [w.walk_id for w in again.walks] == [w.walk_id for w in world.walks]
    assert np.allclose(again.walks[3].joints(7.0), world.walks[3].joints(7.0))
    assert not np.allclose([c.yaw_deg for c in other.cameras], [c.yaw_deg for c in world.cameras])


def test_cross_camera_rule_and_single_camera_fraction(world):
    cams = {p.identity_id: set(p.cameras) for p in world.identities}
    walked = {}
    for w in world.walks:
        walked.setdefault(w.person.identity_id, set()).add(w.camera)
    assert walked == cams
    single = [i for i, c in cams.items() if len(c) == 1]
    assert len(single) == round(0.2 * 40)
    assert all(len(c) >= 2 for i, c in cams.items() if i not in single)
    none_single = build_world(SynthConfig(cameras=3, identities=10, seconds=20, single_camera_fraction=0.0))
    assert all(len(p.cameras) >= 2 for p in none_single.identities)


def test_attributes_cover_every_grew_class(world):
    seen = {
        k: {p.attributes()[k] for p in world.identities} for k in ("gender", "age_group", "carrying", "upper", "lower")
    }
    assert seen == {
        "gender": set(GENDERS),
        "age_group": set(AGE_GROUPS),
        "carrying": set(CARRYING),
        "upper": set(UPPER),
        "lower": set(LOWER),
    }


def test_gait_differs_between_identities_but_not_within_one(world):
    walks_of = {}
    for w in world.walks:
        walks_of.setdefault(w.person.identity_id, []).append(w.person.gait_vector())
    vectors = {i: np.stack(v) for i, v in walks_of.items() if len(v) >= 2}
    all_v = np.concatenate(list(vectors.values()))
    scale = all_v.std(axis=0)
    assert (scale > 0).all(), "every gait parameter must vary between people"
    within = np.mean([np.linalg.norm((v[0] - v[1]) / scale) for v in vectors.values()])
    ids = sorted(vectors)
    between = np.mean([np.linalg.norm((vectors[a][0] - vectors[b][0]) / scale) for a, b in zip(ids, ids[1:])])
    assert within < 0.25 * between, (within, between)
    # but two walks of one person are never identical
    assert all(not np.allclose(v[0], v[1]) for v in vectors.values())


def test_children_are_small_and_elders_slow(world):
    by_age = {}
    for p in world.identities:
        by_age.setdefault(p.age_group, []).append(p)
    assert max(p.height_m for p in by_age["child"]) < min(p.height_m for p in by_age["16-30"]) + 0.1

    def speed(p):
        return p.stride_factor * p.height_m * p.cadence_spm / 120

    assert np.mean([speed(p) for p in by_age["elder"]]) < np.mean([speed(p) for p in by_age["16-30"]])


def test_skeleton_is_human_and_on_the_ground(world):
    w = world.walks[0]
    for t in np.linspace(w.t0, w.t0 + w.duration, 25):
        j = w.joints(t)
        H = w.person.height_m
        lowest = min(j[J["l_ankle"], 2], j[J["r_ankle"], 2], j[J["l_toe"], 2] - 0.02, j[J["r_toe"], 2] - 0.02)
        assert abs(lowest - 0.039 * H) < 1e-6  # the stance foot stands on the ground
        assert 0.85 * H < j[J["head"], 2] < 1.0 * H
        assert j[J["neck"], 2] > j[J["pelvis"], 2] > j[J["l_knee"], 2] - 0.05
        kp = coco17(w, j)
        assert kp.shape == (17, 3) and kp[0, 2] > kp[5, 2] > kp[11, 2] > kp[15, 2]


def test_walkers_are_80_to_250_px_at_the_middle_of_their_walk(world):
    heights = []
    for w in world.walks:
        cam = world.cameras[w.camera]
        j = w.joints(w.t0 + w.duration / 2)
        uv, _ = cam.project(j)
        heights.append(uv[:, 1].max() - uv[:, 1].min())
    adults = [h for h, w in zip(heights, world.walks) if w.person.age_group != "child"]
    assert 80 <= np.median(adults) <= 250
    assert np.mean([(60 <= h <= 300) for h in heights]) > 0.9


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="single_camera_fraction"):
        SynthConfig(single_camera_fraction=1.5)
    with pytest.raises(ValueError, match="codec"):
        SynthConfig(codec="H264")


def test_nobody_is_in_two_places_at_once_when_the_video_allows(world):
    spans = {}
    for w in world.walks:
        spans.setdefault(w.person.identity_id, []).append((w.t0, w.t0 + w.duration))
    for ident, s in spans.items():
        s.sort()
        assert all(b[0] >= a[1] + 2.0 - 1e-9 for a, b in zip(s, s[1:])), ident
    # every walk is on screen inside the video: its time in the band overlaps [0, T]
    T = world.config.seconds
    assert all(w.t0 < 0.92 * T and w.t0 + w.duration > 0.08 * T for w in world.walks)


def test_ids_must_be_usable_as_file_names():
    with pytest.raises(ValueError, match="camera_prefix"):
        SynthConfig(camera_prefix="cam/")
