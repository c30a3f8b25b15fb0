"""`grewkit export opengait`: the layout and partition read back by OpenGait's dataset rules."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pyarrow as pa
import pytest
from split_world import set_split_settings, small_world

from grewkit.core.arrays import load_array, save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.export.opengait import DISTRACTOR_LABEL, export_opengait
from grewkit.interop.import_opengait import import_opengait
from grewkit.interop.opengait import read_partition
from grewkit.split.cli import split_project


@pytest.fixture(scope="module")
def split_dataset(tmp_path_factory):
    project = Project.init(tmp_path_factory.mktemp("og") / "proj")
    splits = small_world(project)
    return project, splits


def test_protocol_layout_reads_back_as_opengait_would(split_dataset, tmp_path):
    project, splits = split_dataset
    out = tmp_path / "og"
    result = export_opengait(project, out, show_progress=False)
    rows = splits.to_pylist()
    assert result.sequences == len(rows)
    train = read_partition(out, out / "partition.json", training=True)
    test = read_partition(out, out / "partition.json", training=False)
    assert len(train) == sum(r["split"] == "train" for r in rows)
    assert {e.type for e in train} == {"00"}
    # evaluate_real_scene (dataset_name GREW): gallery = type 01, probe = type 02
    by_seq = {r["sequence_id"]: r for r in rows}
    for e in test:
        r = by_seq[e.view]
        if e.label == DISTRACTOR_LABEL:
            assert r["split"] == "distractor" and e.type == "01"
        else:
            assert (
                r["split"] == "test"
                and e.label == r["identity_id"]
                and e.type == {"gallery": "01", "probe": "02"}[r["role"]]
            )
        array = load_array(e.files[0])
        assert e.files[0].name == f"{e.view}.pkl" and array.dtype == np.uint8 and array.ndim == 3
    partition = json.loads((out / "partition.json").read_text())
    probes = {f"{e.label}-{e.type}-{e.view}" for e in test if e.type == "02"}
    assert set(partition["PROBE_SET"]) == probes and probes
    assert not set(partition["TRAIN_SET"]) & set(partition["TEST_SET"])
    val = read_partition(out, out / "partition_val.json", training=False)
    assert {by_seq[e.view]["split"] for e in val} == {"val", "distractor"}
    # the exported silhouettes are the project's, unchanged
    sample = test[0]
    src = next(r for r in project.read("sequences").to_pylist() if r["sequence_id"] == sample.view)
    assert np.array_equal(load_array(sample.files[0]), load_array(project.resolve(src["path"])))


def test_rerun_is_idempotent_and_foreign_folders_are_refused(split_dataset, tmp_path):
    project, _ = split_dataset
    out = tmp_path / "og"
    export_opengait(project, out, show_progress=False)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (out / "stale").mkdir()
    (out / "stale" / "x.pkl").write_bytes(b"")
    export_opengait(project, out, show_progress=False)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(GrewkitError, match="not empty and holds no earlier grewkit export"):
        export_opengait(project, foreign, show_progress=False)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_colour_silhouettes_are_refused(tmp_path):
    project = Project.init(tmp_path / "p")
    path = project.folder("renders") / "c.npy"
    save_array(path, np.zeros((5, 64, 44, 3), np.uint8))
    project.write(
        "sequences",
        pa.Table.from_pylist(
            [
                {
                    "sequence_id": s,
                    "modality": "sil64",
                    "tracklet_id": None,
                    "identity_id": i,
                    "camera_id": c,
                    "view": None,
                    "condition": None,
                    "path": "renders/c.npy",
                    "frames": 5,
                    "height": 64,
                    "width": 44,
                    "sha256": "x",
                }
                for s, i, c in [("a", "A", "c1"), ("b", "A", "c2"), ("d", "B", "c1")]
            ]
        ),
    )
    set_split_settings(project, "ratios = [1, 0, 0]\n")
    split_project(project)
    with pytest.raises(GrewkitError, match="colour"):
        export_opengait(project, tmp_path / "out", show_progress=False)


def test_casiab_round_trip_in_source_layout(shared_data, tmp_path):
    with tarfile.open(shared_data / "casiab_090_s075-094_opengait.tar.gz") as tar:
        tar.extractall(tmp_path / "casiab", filter="data")
    project = Project.init(tmp_path / "p")
    import_opengait(project, tmp_path / "casiab", dataset="casiab", show_progress=False)
    set_split_settings(
        project, "min_cameras = 1\nratios = [1, 0, 1]\nsequences_per_test_identity = 10\nprobes_per_test_identity = 4\n"
    )
    split_project(project)
    out = tmp_path / "og"
    export_opengait(project, out, layout="source", show_progress=False)
    entries = read_partition(out, out / "partition.json", training=True) + read_partition(
        out, out / "partition.json", training=False
    )
    assert len(entries) == 200
    e = next(e for e in entries if (e.label, e.type, e.view) == ("075", "nm-05", "090"))
    assert e.files[0].relative_to(out).as_posix() == "075/nm-05/090/090.pkl"
    assert np.array_equal(load_array(e.files[0]), load_array(tmp_path / "casiab/subset/075/nm-05/090/090.pkl"))
