"""`grewkit split` then `grewkit validate` on a project; deliberately leaky splits are refused."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pytest

from grewkit.core.validate import validate_project
from grewkit.split.checks import check_splits
from grewkit.split.cli import split_project
from split_world import set_split_settings, write_world


def grewkit(*args):
    return subprocess.run([sys.executable, "-m", "grewkit", *args], capture_output=True, text=True)


def _splits(rows):
    return pa.Table.from_pylist(
        [dict(zip(("sequence_id", "identity_id", "camera_id", "split", "role"), r)) for r in rows],
        schema=pa.schema([(c, pa.string()) for c in ("sequence_id", "identity_id", "camera_id", "split", "role")]),
    )


GOOD = [
    ("a1", "A", "c1", "train", None), ("a2", "A", "c2", "train", None),
    ("b1", "B", "c3", "test", "probe"), ("b2", "B", "c4", "test", "gallery"),
    ("d1", "D", "c5", "distractor", None),
]


@pytest.mark.parametrize("rows, disjoint, message", [
    (GOOD + [("a3", "A", "c3", "test", "gallery")], False, "identity leak: 1 identities are in both train and test"),
    (GOOD + [("x1", "B", "c5", "distractor", None)], False, "identity leak: 1 identities are in both test and distractor"),
    (GOOD + [("e1", "E", "c1", "test", "probe"), ("e2", "E", "c4", "test", "gallery")], True,
     "camera leak: 1 cameras record both train and test"),
    (GOOD + [("f1", "F", "c3", "test", "probe")], False, "probe identities have no gallery sequence"),
    (GOOD + [("g1", "G", "c3", "test", None)], False, "role that does not fit their split"),
    (GOOD + [("h1", "H", "c3", "holdout", None)], False, "unknown split values ['holdout']"),
])
def test_leaky_or_malformed_splits_are_refused(rows, disjoint, message):
    problems, _ = check_splits(_splits(rows), camera_disjoint=disjoint)
    assert any(message in p for p in problems), problems


def test_camera_sharing_is_allowed_when_camera_disjoint_is_not_asked():
    rows = GOOD + [("e1", "E", "c1", "test", "probe"), ("e2", "E", "c4", "test", "gallery")]
    assert check_splits(_splits(rows), camera_disjoint=False)[0] == []


def test_split_then_validate_passes_and_prints_the_shape(project):
    write_world(project)
    set_split_settings(project, "camera_disjoint = true\nratios = [6, 1, 3]\n")
    result, shape = split_project(project)
    assert shape.rows["test"]["probe"] == 2 * shape.rows["test"]["identities"]
    assert validate_project(project) == []
    out = grewkit("validate", "--project", str(project.root))
    assert out.returncode == 0, out.stderr
    assert "identity leaks 0, camera leaks 0" in out.stderr and "protocol: train" in out.stderr
    # a second run with the same seed writes the same bytes
    before = (project.manifests_dir / "splits.parquet").read_bytes()
    out = grewkit("split", "--project", str(project.root))
    assert out.returncode == 0, out.stderr
    assert (project.manifests_dir / "splits.parquet").read_bytes() == before


def test_validate_refuses_a_leaky_splits_manifest_on_disk(project):
    write_world(project)
    split_project(project)
    splits = project.read("splits").to_pylist()
    train = next(r for r in splits if r["split"] == "train")
    test = next(r for r in splits if r["split"] == "test")
    train["identity_id"] = test["identity_id"]  # the leak: a test identity also in train
    project.write("splits", pa.Table.from_pylist(splits))
    out = grewkit("validate", "--project", str(project.root))
    assert out.returncode == 1
    assert "manifests/splits.parquet: identity leak" in out.stderr
    # a split row naming a sequence that does not exist
    splits.append({**test, "sequence_id": "ghost"})
    project.write("splits", pa.Table.from_pylist(splits))
    assert any("not in the sequences manifest" in p.message for p in validate_project(project))
