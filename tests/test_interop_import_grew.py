"""`grewkit import grew`: export then import gives the same sequences and splits; probes stay anonymous without the key."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from split_world import small_world

from grewkit.core.arrays import load_array
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.validate import validate_project
from grewkit.export.grew import export_grew
from grewkit.interop.import_grew import import_grew

MODALITIES = ("sil64", "sil64_frames", "gei64", "flow", "pose2d", "pose3d")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("rt")
    project = Project.init(base / "proj")
    small_world(project, modalities=MODALITIES)
    result = export_grew(project, base / "release", show_progress=False)
    return project, base / "release", result.key_dir


def _arrays(project):
    split = set(project.read("splits").column("sequence_id").to_pylist())
    return {
        (r["sequence_id"], r["modality"]): load_array(project.resolve(r["path"]))
        for r in project.read("sequences").to_pylist()
        if r["sequence_id"] in split
    }


def test_round_trip_with_the_key_restores_sequences_and_splits(exported, tmp_path):
    source, out, key = exported
    copy = Project.init(tmp_path / "copy")
    import_grew(copy, out, key_dir=key, show_progress=False)
    assert copy.read("splits").sort_by("sequence_id").equals(source.read("splits").sort_by("sequence_id"))
    a, b = _arrays(source), _arrays(copy)
    assert a.keys() == b.keys()
    for k in a:
        # frame numbers are published relative to the first frame (absolute ones would date the probes)
        expected = a[k] - a[k][0] if k[1].endswith("frames") else a[k]
        assert np.array_equal(expected, b[k]), k
    assert validate_project(copy) == []


def test_without_the_key_probes_and_distractors_have_no_identity(exported, tmp_path):
    source, out, _ = exported
    copy = Project.init(tmp_path / "copy")
    import_grew(copy, out, dataset="mine", show_progress=False)
    rows = copy.read("splits").to_pylist()
    assert len(rows) == source.read("splits").num_rows
    for r in rows:
        hidden = r["split"] == "distractor" or (r["split"] == "test" and r["role"] == "probe")
        assert (r["identity_id"] is None) == hidden, r
        assert r["sequence_id"].startswith("mine-")

    # identities are renamed, but the grouping of train sequences into identities is kept
    def groups(rows):
        out = {}
        for r in rows:
            if r["split"] == "train":
                out.setdefault(r["identity_id"], set()).add(r["split"])
        return sorted(len(v) for v in out.values())

    assert len({r["identity_id"] for r in rows if r["split"] == "train"}) == len(
        {r["identity_id"] for r in source.read("splits").to_pylist() if r["split"] == "train"}
    )
    assert validate_project(copy) == []


def test_grews_own_layout_frames_in_the_sequence_folder(tmp_path):
    root = tmp_path / "GREW"
    for folder, n in (
        ("train/00001/4XPn5Z28", 3),
        ("test/gallery/00001/79XJefi8", 2),
        ("test/probe/etaGVnWf", 2),
        ("distractor/zzTop123", 2),
    ):
        (root / folder).mkdir(parents=True)
        for t in range(n):
            cv2.imwrite(str(root / folder / f"{t + 1:05d}.png"), np.full((64, 44), 255 * (t % 2), np.uint8))
    project = Project.init(tmp_path / "p")
    result = import_grew(project, root, show_progress=False)
    assert result.counts == {"train": 1, "test gallery": 1, "test probe": 1, "distractor": 1}
    seqs = {r["sequence_id"]: r for r in project.read("sequences").to_pylist()}
    assert seqs["grew-4XPn5Z28"]["modality"] == "sil64" and seqs["grew-4XPn5Z28"]["frames"] == 3
    assert seqs["grew-4XPn5Z28"]["identity_id"] == "grew-train-00001"
    assert seqs["grew-79XJefi8"]["identity_id"] == "grew-test-00001"  # GREW numbers each set from 00001


def test_a_colour_frame_in_a_release_is_refused(tmp_path):
    seq = tmp_path / "R/train/00001/abc"
    seq.mkdir(parents=True)
    cv2.imwrite(str(seq / "00001.png"), np.zeros((64, 44, 3), np.uint8))
    with pytest.raises(GrewkitError, match="expected a single-channel silhouette"):
        import_grew(Project.init(tmp_path / "p"), tmp_path / "R", show_progress=False)
