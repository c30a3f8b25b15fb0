"""`grewkit export unlabelled`: kept tracklets' silhouettes in OpenGait's layout, one pseudo-identity per
tracklet, nothing that names an identity, camera, split or sequence, and no colour pixel."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from split_world import small_world

from grewkit.cli.main import cli
from grewkit.core.arrays import load_array, save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.schemas import get_schema
from grewkit.export.unlabelled import export_unlabelled
from grewkit.interop.opengait import read_partition
from grewkit.interop.pixels import scan_release


def _with_tracklets(project):
    """Give the sequences tracklets (pairs share one; the last sequence has none) and drop every fifth."""
    seqs = project.read("sequences").to_pylist()
    ids = sorted({r["sequence_id"] for r in seqs})
    tracklet_of = {sid: f"vid{i % 3}-t{i // 2:03d}" for i, sid in enumerate(ids[:-1])}
    for r in seqs:
        r["tracklet_id"] = tracklet_of.get(r["sequence_id"])
    project.write("sequences", pa.Table.from_pylist(seqs, schema=project.read("sequences").schema))
    tracklets = [
        {
            "tracklet_id": t,
            "video_id": t.split("-")[0],
            "camera_id": "cam00",
            "track_id": int(t[-3:]),
            "start_frame": 0,
            "end_frame": 10,
            "n_frames": 10,
            "mean_box_height": 100.0,
            "mean_score": 0.9,
            "kept": int(t[-3:]) % 5 != 0,
            "filter_reason": None if int(t[-3:]) % 5 else "short",
        }
        for t in sorted(set(tracklet_of.values()))
    ]
    project.write("tracklets", pa.Table.from_pylist(tracklets, schema=get_schema("tracklets").arrow))
    return seqs, tracklet_of, {t["tracklet_id"] for t in tracklets if not t["kept"]}


def test_layout_pseudo_identities_and_nothing_leaked(project, tmp_path):
    splits = small_world(project).to_pylist()
    seqs, tracklet_of, dropped = _with_tracklets(project)
    split_of = {s["sequence_id"]: s["split"] for s in splits}
    want = sorted(
        r["sequence_id"]
        for r in seqs
        if tracklet_of.get(r["sequence_id"]) not in dropped and split_of.get(r["sequence_id"]) != "test"
    )
    out, key = tmp_path / "unlabelled", tmp_path / "key.csv"
    r = CliRunner().invoke(
        cli,
        [
            "export",
            "unlabelled",
            str(out),
            "--project",
            str(project.root),
            "--leave-out",
            "test",
            "--key",
            str(key),
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    assert f"wrote {len(want)} sil64 sequences" in r.output

    # OpenGait's dataset rules read it back: every sequence a training entry, three levels deep.
    entries = read_partition(out, out / "partition.json", training=True)
    assert len(entries) == len(want)
    partition = json.loads((out / "partition.json").read_text())
    assert partition["TEST_SET"] == [] and partition["TRAIN_SET"] == sorted({e.label for e in entries})
    rows = [line.split(",") for line in key.read_text().splitlines()[1:]]
    assert sorted(row[2] for row in rows) == want
    # One pseudo-identity per tracklet, one type folder per sequence of it.
    label_of_tracklet = {}
    for label, seq_type, sid, tid in rows:
        group = tid or sid
        assert label_of_tracklet.setdefault(group, label) == label
        pkl = out / label / seq_type / "000" / f"{label}_{seq_type}_000.pkl"
        src = next(s for s in seqs if s["sequence_id"] == sid)
        assert np.array_equal(load_array(pkl), load_array(project.resolve(src["path"])))
    assert len(set(label_of_tracklet.values())) == len(label_of_tracklet) == len(partition["TRAIN_SET"])

    # Nothing names an identity, a camera, a sequence, a tracklet or a split: not a path, not a text.
    secrets = {r["identity_id"] for r in seqs if r["identity_id"]} | {r["camera_id"] for r in seqs}
    secrets |= (
        {r["sequence_id"] for r in seqs} | set(tracklet_of.values()) | {"train", "test", "val", "probe", "gallery"}
    )
    for path in out.rglob("*"):
        rel = str(path.relative_to(out))
        assert not any(s in rel for s in secrets), rel
        if path.is_file() and path.suffix == ".json":
            text = path.read_text()
            assert not any(f'"{s}"' in text for s in secrets), (rel, text)
    assert key.parent != out and not (out / key.name).exists()
    assert scan_release(out) == []

    # The same seed gives the same folders; a rerun over the export is allowed and leaves the same export.
    again = export_unlabelled(project, out, leave_out=("test",), show_progress=False)
    assert again.sequences == len(want) and read_partition(out, out / "partition.json", training=True) == entries


def test_refusals(project, tmp_path):
    small_world(project)
    out = tmp_path / "u"
    with pytest.raises(GrewkitError, match="outside the export folder"):
        export_unlabelled(project, out, key_path=out / "key.csv", show_progress=False)
    assert not out.exists()
    # A colour "silhouette" is refused (the no-RGB check of every release).
    seq = project.read("sequences").to_pylist()[0]
    save_array(project.resolve(seq["path"]), np.zeros((5, 64, 44, 3), np.uint8))
    with pytest.raises(GrewkitError, match="colour"):
        export_unlabelled(project, tmp_path / "u2", show_progress=False)
    with pytest.raises(GrewkitError, match="splits manifest"):
        project.manifests_dir.joinpath("splits.parquet").unlink()
        export_unlabelled(project, tmp_path / "u3", leave_out=("test",), show_progress=False)
