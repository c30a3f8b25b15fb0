"""`grewkit export grew`: the release layout, hidden probe identities, the answer key apart, and no RGB pixel."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pyarrow as pa
import pytest
from helpers import grewkit
from split_world import small_world

from grewkit.core.arrays import save_array
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.export.grew import export_grew
from grewkit.interop.grew import read_pose2d_csv
from grewkit.interop.pixels import scan_release

MODALITIES = ("sil64", "sil64_frames", "gei64", "flow", "pose2d", "pose3d")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    base = tmp_path_factory.mktemp("grew")
    project = Project.init(base / "proj")
    splits = small_world(project, modalities=MODALITIES)
    cams = sorted(set(splits.column("camera_id").to_pylist()) - {None})
    from grewkit.core.schemas import get_schema

    schema = get_schema("cameras").arrow
    empty = {name: None for name in schema.names}
    project.write(
        "cameras",
        pa.Table.from_pylist([{**empty, "camera_id": c, "width": 1920, "height": 1080} for c in cams], schema=schema),
    )
    result = export_grew(project, base / "release", show_progress=False)
    return project, splits, base / "release", result


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_release_layout_and_hidden_probe_identities(release):
    project, splits, out, result = release
    rows = splits.to_pylist()
    assert result.sequences == len(rows)
    assert result.key_dir == out.with_name("release-answer-key") and result.key_dir.is_dir()
    key = {r["name"]: r for r in _read_csv(result.key_dir / "answer_key.csv")}
    assert len(key) == len(rows)
    index = _read_csv(out / "index.csv")
    for r in index:
        k = key[r["name"]]
        assert (r["split"], r["role"]) == (k["split"], k["role"])
        if k["split"] == "distractor" or k["role"] == "probe" and k["split"] == "test":
            assert r["identity"] == "" and r["folder"].count("/") == (1 if k["split"] == "distractor" else 2)
        else:
            assert r["identity"] == k["public_identity"]
        assert k["sequence_id"] not in r["name"] and (k["identity_id"] or "@@") not in r["folder"]
        folder = out / r["folder"]
        assert (
            (folder / "gei64.png").is_file()
            and (folder / "sil64_frames.npy").is_file()
            and (folder / "flow.npy").is_file()
            and (folder / "pose3d.npy").is_file()
        )
        assert len(list((folder / "sil64").glob("*.png"))) == int(r["frames"])
    assert {p.name for p in (out / "test").iterdir()} == {"gallery", "probe"}
    # nothing of the key is inside the release
    release_text = " ".join(p.read_text() for p in out.rglob("*") if p.suffix in (".csv", ".md"))
    assert not any(k["sequence_id"] in release_text for k in key.values())


def test_pose2d_csv_carries_the_original_image_size(release):
    _, _, out, _ = release
    csv_path = next(out.rglob("pose2d.csv"))
    array, width, height = read_pose2d_csv(csv_path)
    assert (width, height) == (1920, 1080) and array.ndim == 3 and array.shape[2] == 3


def test_scanner_finds_no_colour_pixel_in_the_release_and_catches_planted_ones(release, tmp_path):
    _, _, out, _ = release
    assert scan_release(out) == []
    for f in out.rglob("*.png"):
        image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        assert image.ndim == 2, f
    planted = tmp_path / "planted"
    planted.mkdir()
    colour = np.zeros((64, 44, 3), np.uint8)
    colour[..., 2] = 200
    cv2.imwrite(str(planted / "frame.png"), colour)
    save_array(planted / "sil.npy", np.zeros((4, 64, 44, 3), np.uint8))
    (planted / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    problems = " | ".join(scan_release(planted))
    assert "frame.png: colour image" in problems and "sil.npy" in problems and "clip.mp4: video file" in problems


@pytest.mark.parametrize(
    "modality, array, message",
    [
        ("sil64", np.zeros((5, 64, 44, 3), np.uint8), "colour"),
        ("gei64", np.zeros((64, 44, 3), np.uint8), "colour"),
        ("sil64_frames", np.zeros(40, np.uint8), "must hold frame numbers"),
        ("flow", np.zeros((4, 64, 44, 3), np.uint8), "colour-coded flow is refused"),
        ("pose2d", np.zeros((5, 64, 44, 3), np.uint8), "float coordinates"),
    ],
)
def test_the_exporter_refuses_colour_arrays_naming_the_file(tmp_path, modality, array, message):
    project = Project.init(tmp_path / "p")
    small_world(project)
    bad = project.folder("renders") / "bad.npy"
    save_array(bad, array)
    rows = project.read("sequences").to_pylist()
    first = project.read("splits").to_pylist()[0]["sequence_id"]
    template = next(r for r in rows if r["sequence_id"] == first)
    rows = [r for r in rows if (r["sequence_id"], r["modality"]) != (first, modality)]
    rows.append({**template, "modality": modality, "path": "renders/bad.npy"})
    project.write("sequences", pa.Table.from_pylist(rows))
    with pytest.raises(GrewkitError, match=message) as info:
        export_grew(project, tmp_path / "release", show_progress=False)
    assert str(bad) in str(info.value)


def test_the_key_may_not_live_inside_the_release(release, tmp_path):
    project, _, _, _ = release
    with pytest.raises(GrewkitError, match="kept apart"):
        export_grew(project, tmp_path / "r", key_dir=tmp_path / "r" / "key", show_progress=False)


def test_command_line_export_and_import_with_one_line_errors(release, tmp_path):

    project, splits, _, _ = release

    out = grewkit(
        "export",
        "grew",
        str(tmp_path / "rel"),
        "--project",
        str(project.root),
        "--key",
        str(tmp_path / "key"),
        "--modality",
        "sil64",
        "--quiet",
    )
    assert out.returncode == 0, out.stderr
    assert f"wrote {splits.num_rows} sequences" in out.stdout and (tmp_path / "key/answer_key.csv").is_file()
    assert {p.name for p in next((tmp_path / "rel/train").iterdir()).iterdir().__next__().iterdir()} == {"sil64"}
    copy = tmp_path / "copy"
    assert grewkit("init", str(copy)).returncode == 0
    out = grewkit("import", "grew", str(tmp_path / "rel"), "--project", str(copy), "--quiet")
    assert out.returncode == 0 and "probe identities hidden" in out.stdout, out.stderr
    bad = grewkit(
        "export", "grew", str(tmp_path / "r2"), "--project", str(project.root), "--key", str(tmp_path / "r2/k")
    )
    assert bad.returncode != 0 and "kept apart from the release" in bad.stderr and "Traceback" not in bad.stderr
