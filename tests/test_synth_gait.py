"""Identities are distinguishable by gait alone: GEIs of true silhouettes, nearest neighbour across cameras."""

from __future__ import annotations

import numpy as np

from grewkit.synth.sanity import gei_rank1, normalised_silhouette
from grewkit.synth.world import SynthConfig


def test_gei_nearest_neighbour_across_cameras_is_well_above_chance(capsys):
    result = gei_rank1(
        SynthConfig(
            cameras=4, identities=40, seconds=30, seed=1, single_camera_fraction=0.0, max_cameras_per_identity=4
        )
    )
    with capsys.disabled():
        print(f"\n  {result.line()}")
    assert result.probes >= 15
    assert result.rank1 >= 5 * result.chance


def test_silhouette_normalisation_centres_and_scales():
    mask = np.zeros((200, 100), bool)
    mask[20:180, 60:80] = True
    s = normalised_silhouette(mask)
    assert s.shape == (64, 44)
    cols = np.flatnonzero(s.sum(axis=0) > 0)
    assert abs((cols[0] + cols[-1]) / 2 - 21.5) <= 1.0
    assert normalised_silhouette(np.zeros((50, 50), bool)) is None
