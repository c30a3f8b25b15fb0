"""The GREW split protocol on a synthetic world: eligibility, disjointness, probe/gallery shape, reproducibility."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
from split_world import world_rows

from grewkit.core.errors import GrewkitError
from grewkit.split.checks import check_splits
from grewkit.split.protocol import choose_probe_gallery, make_splits
from grewkit.split.settings import SplitSettings

SETTINGS = SplitSettings(ratios=[6, 1, 3], seed=7)


def _by(table, col):
    out = {}
    for row in table.to_pylist():
        out.setdefault(row[col], []).append(row)
    return out


def test_single_camera_and_unlabelled_sequences_are_distractors():
    rows = world_rows()
    table = make_splits(rows, SETTINGS).table
    split_of = dict(zip(table.column("sequence_id").to_pylist(), table.column("split").to_pylist()))
    for seq, ident in zip(rows.column("sequence_id").to_pylist(), rows.column("identity_id").to_pylist()):
        if ident is None or ident.startswith("one"):
            assert split_of[seq] == "distractor", seq
        else:
            assert split_of.get(seq) != "distractor", seq


def test_sets_are_identity_disjoint_and_test_identities_give_two_probes_two_gallery_from_other_cameras():
    result = make_splits(world_rows(), SETTINGS)
    problems, shape = check_splits(result.table, camera_disjoint=False)
    assert problems == []
    assert shape.rows["test"]["identities"] == 12 and shape.rows["val"]["identities"] == 4  # 40 eligible * 3/10, 1/10
    for ident, rows in _by(
        result.table.filter(pa.compute.equal(result.table.column("split"), "test")), "identity_id"
    ).items():
        probes = [r for r in rows if r["role"] == "probe"]
        gallery = [r for r in rows if r["role"] == "gallery"]
        assert (len(probes), len(gallery)) == (2, 2), ident
        # world identities are seen in >= 2 cameras with >= 3 sequences: cameras can always be kept apart here
        if len(rows) == 4 and len({r["camera_id"] for r in rows}) >= 2:
            assert not {r["camera_id"] for r in probes} & {r["camera_id"] for r in gallery}, ident


def test_the_split_is_reproducible_and_independent_of_row_order():
    rows = world_rows()
    a = make_splits(rows, SETTINGS).table
    shuffled = rows.take(np.random.default_rng(1).permutation(rows.num_rows))
    assert make_splits(shuffled, SETTINGS).table.equals(a)
    other = make_splits(rows, dataclasses.replace(SETTINGS, seed=8)).table
    assert not other.equals(a)


def test_camera_disjoint_split_shares_no_camera_between_sets():
    rows = world_rows(n_multi=120, cameras=12)
    settings = dataclasses.replace(SETTINGS, camera_disjoint=True)
    result = make_splits(rows, settings)
    problems, shape = check_splits(result.table, camera_disjoint=True)
    assert problems == []
    assert all(shape.rows[s]["identities"] > 0 for s in ("train", "val", "test"))
    groups = result.camera_groups
    assert not set(groups["train"]) & set(groups["test"]) and not set(groups["val"]) & set(groups["test"])
    # identities spanning two camera groups are left out, and said so
    assert sum(result.excluded.values()) > 0


def test_camera_disjoint_with_too_few_cameras_is_refused_with_the_way_out():
    rows = world_rows(cameras=3)
    with pytest.raises(GrewkitError, match="camera_disjoint = false"):
        make_splits(rows, dataclasses.replace(SETTINGS, camera_disjoint=True))


def test_explicit_set_sizes_are_met_and_the_rest_is_left_out():
    settings = dataclasses.replace(SETTINGS, train_identities=10, val_identities=0, test_identities=5)
    result = make_splits(world_rows(), settings)
    _, shape = check_splits(result.table, camera_disjoint=False)
    assert shape.rows["train"]["identities"] == 10 and shape.rows["test"]["identities"] == 5 and "val" not in shape.rows
    assert result.excluded["eligible identities beyond the asked set sizes"] > 0


def test_probe_and_gallery_come_from_different_cameras_where_possible():
    rng = np.random.default_rng(0)
    cams = np.array(["a", "a", "a", "b", "b", "c"])
    for seed in range(20):
        probes, gallery = choose_probe_gallery(cams, n_seq=4, n_probe=2, rng=np.random.default_rng(seed))
        assert len(probes) == 2 and len(gallery) == 2
        assert not set(cams[probes]) & set(cams[gallery])
    # one camera only: impossible to separate, still 2 + 2
    probes, gallery = choose_probe_gallery(np.array(["a"] * 5), n_seq=4, n_probe=2, rng=rng)
    assert len(probes) == 2 and len(gallery) == 2 and not set(probes) & set(gallery)
    # three sequences: one probe, two gallery (the gallery keeps the larger half)
    probes, gallery = choose_probe_gallery(np.array(["a", "b", "b"]), n_seq=4, n_probe=2, rng=rng)
    assert (len(probes), len(gallery)) == (1, 2)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        SplitSettings(ratios=[1, 1])
    with pytest.raises(ValueError):
        SplitSettings(probes_per_test_identity=4, sequences_per_test_identity=4)
