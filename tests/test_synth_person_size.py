"""[synth] person_px_min / person_px_max set how tall walkers look, hence how near each camera's walking area is."""

import pytest

from grewkit.synth.world import SynthConfig, build_world


def test_taller_walkers_walk_nearer_and_cross_the_view_sooner():
    base = build_world(SynthConfig(cameras=2, identities=6, seconds=10.0, seed=0))
    tall = build_world(SynthConfig(cameras=2, identities=6, seconds=10.0, seed=0, person_px_min=130, person_px_max=260))
    for a, b in zip(base.cameras, tall.cameras):
        assert b.far_m < a.far_m and b.near_m < a.near_m
    mean = lambda w: sum(x.duration for x in w.walks) / len(w.walks)  # noqa: E731
    assert mean(tall) < mean(base)


def test_sizes_out_of_order_are_refused():
    with pytest.raises(ValueError, match="person_px_min"):
        SynthConfig(person_px_min=200, person_px_max=150)
