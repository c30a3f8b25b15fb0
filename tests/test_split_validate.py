"""`grewkit split` then `grewkit validate` on a project; deliberately leaky splits are refused."""

from __future__ import annotations

import pyarrow as pa
import pytest
from helpers import grewkit
from split_world import set_split_settings, small_world, write_world

from grewkit.core.validate import validate_project
from grewkit.split.checks import check_splits
from grewkit.split.cli import split_project


def _splits(rows):
    return pa.Table.from_pylist(
        [dict(zip(("sequence_id", "identity_id", "camera_id", "split", "role"), r)) for r in rows],
        schema=pa.schema([(c, pa.string()) for c in ("sequence_id", "identity_id", "camera_id", "split", "role")]),
    )


GOOD = [
    ("a1", "A", "c1", "train", None),
    ("a2", "A", "c2", "train", None),
    ("b1", "B", "c3", "test", "probe"),
    ("b2", "B", "c4", "test", "gallery"),
    ("d1", "D", "c5", "distractor", None),
]


@pytest.mark.parametrize(
    "rows, disjoint, message",
    [
        (
            GOOD + [("a3", "A", "c3", "test", "gallery")],
            False,
            "identity leak: 1 identities are in both train and test",
        ),
        (
            GOOD + [("x1", "B", "c5", "distractor", None)],
            False,
            "identity leak: 1 identities are in both test and distractor",
        ),
        (
            GOOD + [("e1", "E", "c1", "test", "probe"), ("e2", "E", "c4", "test", "gallery")],
            True,
            "camera leak: 1 cameras record both train and test",
        ),
        (GOOD + [("f1", "F", "c3", "test", "probe")], False, "probe identities have no gallery sequence"),
        (GOOD + [("g1", "G", "c3", "test", None)], False, "role that does not fit their split"),
        (GOOD + [("h1", "H", "c3", "holdout", None)], False, "unknown split values ['holdout']"),
    ],
)
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


def test_identities_and_cameras_come_from_annotation_when_render_left_them_empty(project):
    """Render writes sequences with a tracklet and no identity; the identities manifest resolves them."""
    from grewkit.core.schemas import get_schema
    from grewkit.split.inputs import sequence_rows

    seq_schema = get_schema("sequences").arrow
    project.write(
        "sequences",
        pa.Table.from_pylist(
            [
                {
                    "sequence_id": t,
                    "modality": m,
                    "tracklet_id": t,
                    "identity_id": None,
                    "camera_id": None,
                    "view": None,
                    "condition": None,
                    "path": f"renders/{t}/{m}.npy",
                    "frames": 3,
                    "height": 64,
                    "width": 64,
                    "sha256": "x",
                }
                for t in ("t1", "t2", "t3")
                for m in ("sil64", "gei64")
            ],
            schema=seq_schema,
        ),
    )
    trk_schema = get_schema("tracklets").arrow
    project.write(
        "tracklets",
        pa.Table.from_pylist(
            [
                {
                    "tracklet_id": t,
                    "video_id": "v",
                    "camera_id": c,
                    "track_id": 1,
                    "start_frame": 0,
                    "end_frame": 2,
                    "n_frames": 3,
                    "mean_box_height": 100.0,
                    "mean_score": 0.9,
                    "kept": True,
                    "filter_reason": None,
                }
                for t, c in (("t1", "camA"), ("t2", "camB"), ("t3", "camA"))
            ],
            schema=trk_schema,
        ),
    )
    project.write(
        "identities",
        pa.Table.from_pylist(
            [
                {
                    "tracklet_id": "t1",
                    "identity_id": "P1",
                    "source": "annotation",
                    "status": "resolved",
                    "reason": None,
                },
                {
                    "tracklet_id": "t2",
                    "identity_id": "P1",
                    "source": "annotation",
                    "status": "resolved",
                    "reason": None,
                },
                {
                    "tracklet_id": "t3",
                    "identity_id": "P2",
                    "source": "annotation",
                    "status": "held_out",
                    "reason": "conflict",
                },
            ],
            schema=get_schema("identities").arrow,
        ),
    )
    rows = {r["sequence_id"]: r for r in sequence_rows(project).to_pylist()}
    assert rows["t1"] == {"sequence_id": "t1", "identity_id": "P1", "camera_id": "camA"}
    assert rows["t2"]["identity_id"] == "P1" and rows["t2"]["camera_id"] == "camB"
    assert rows["t3"]["identity_id"] is None  # held out: unlabelled, so only a distractor


def test_unaudited_single_camera_identities_are_refused_as_distractors(project):
    from grewkit.annotate.campaign import UNAUDITED
    from grewkit.core.errors import GrewkitError

    splits = small_world(project)
    distractor = next(r["identity_id"] for r in splits.to_pylist() if r["split"] == "distractor" and r["identity_id"])
    project.write(
        "identities",
        pa.table(
            {
                "tracklet_id": ["t-1"],
                "identity_id": [distractor],
                "source": ["annotation"],
                "status": ["resolved"],
                "reason": [UNAUDITED],
            }
        ),
    )
    # validate reports the split written before the identity was known to be unaudited ...
    assert any("no audit has checked" in p.message for p in validate_project(project))
    # ... and split refuses to write it again, naming the identities manifest.
    with pytest.raises(GrewkitError, match="no audit has checked") as err:
        split_project(project)
    assert "identities.parquet" in str(err.value)
    set_split_settings(project, "ratios = [6, 1, 3]\nallow_unaudited_distractors = true\n")
    assert split_project(project)[0].table.num_rows == splits.num_rows
