"""`grewkit import opengait` on real CASIA-B silhouettes (OpenGait layout), and a malicious pickle refused."""

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import pytest
from helpers import grewkit

from grewkit.core.arrays import load_array
from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file
from grewkit.core.safe_pickle import dump_array
from grewkit.core.validate import validate_project
from grewkit.interop.import_opengait import import_opengait


@pytest.fixture
def casiab(shared_data, tmp_path):
    """The CASIA-B subset extracted to a temporary folder (never into the repo)."""
    with tarfile.open(shared_data / "casiab_090_s075-094_opengait.tar.gz") as tar:
        tar.extractall(tmp_path / "casiab", filter="data")
    return tmp_path / "casiab"


def test_casiab_import_registers_every_sequence(project, casiab):
    summary = import_opengait(project, casiab, dataset="casiab", show_progress=False)
    assert (summary.sequences, summary.identities, summary.modalities) == (200, 20, {"sil64": 200})
    seqs = project.read("sequences").to_pylist()
    by_id = {r["sequence_id"]: r for r in seqs}
    row = by_id["casiab-075-nm-05-090"]
    assert (row["modality"], row["identity_id"], row["view"], row["condition"], row["camera_id"]) == (
        "sil64",
        "075",
        "090",
        "nm-05",
        "090",
    )
    source = casiab / "subset/075/nm-05/090/090.pkl"
    assert row["path"] == str(source.resolve())  # outside the project: absolute, original file kept
    array = load_array(row["path"])
    assert array.dtype == np.uint8 and array.shape == (row["frames"], 64, 64) and row["sha256"] == sha256_file(source)
    assert {r["condition"] for r in seqs} == {f"nm-0{i}" for i in range(1, 7)} | {"bg-01", "bg-02", "cl-01", "cl-02"}
    assert validate_project(project) == []
    # idempotent: a second import replaces its own rows
    import_opengait(project, casiab, dataset="casiab", show_progress=False)
    assert project.read("sequences").num_rows == 200


def test_copy_stores_npy_inside_the_project(project, casiab):
    import_opengait(project, casiab / "subset", dataset="casiab", copy=True, show_progress=False)
    row = next(r for r in project.read("sequences").to_pylist() if r["sequence_id"] == "casiab-094-cl-02-090")
    assert row["path"] == "renders/casiab/casiab-094-cl-02-090.npy"
    original = load_array(casiab / "subset/094/cl-02/090/090.pkl")
    assert np.array_equal(load_array(project.resolve(row["path"])), original)
    assert row["sha256"] == sha256_file(project.resolve(row["path"]))


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_malicious_pickle_is_refused_naming_the_file_and_nothing_is_written(project, tmp_path):
    root = tmp_path / "og"
    good = root / "001/nm-01/090/090.pkl"
    good.parent.mkdir(parents=True)
    good.write_bytes(dump_array(np.zeros((3, 64, 44), np.uint8)))
    evil = root / "002/nm-01/090/090.pkl"
    evil.parent.mkdir(parents=True)
    evil.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(GrewkitError, match="refused to unpickle posix.system") as info:
        import_opengait(project, root, dataset="x", copy=True, show_progress=False)
    assert str(evil) in str(info.value)
    assert not (tmp_path / "pwned").exists() and not any(project.root.rglob("pwned"))
    assert not project.has("sequences") and not any((project.root / "renders").rglob("*.npy"))
    # the command line says the same in one line, without a traceback
    out = grewkit("import", "opengait", root, "--project", project.root, cwd=tmp_path)
    assert (
        out.returncode != 0
        and f"{evil}: refused to unpickle posix.system" in out.stderr
        and "Traceback" not in out.stderr
    )
    assert not (tmp_path / "pwned").exists()


def test_colour_or_non_uint8_arrays_are_refused(project, tmp_path):
    bad = tmp_path / "og/001/nm-01/090/090.pkl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(dump_array(np.zeros((3, 64, 44, 3), np.uint8)))
    with pytest.raises(GrewkitError, match=r"expected a uint8 array \(T, H, W\)"):
        import_opengait(project, tmp_path / "og", show_progress=False)


def test_a_malicious_second_pickle_of_a_sequence_stops_the_import(project, tmp_path):
    root = tmp_path / "og"
    folder = root / "001/nm-01/090"
    folder.mkdir(parents=True)
    (folder / "090.pkl").write_bytes(dump_array(np.zeros((3, 64, 44), np.uint8)))
    evil = folder / "091-extra.pkl"  # sorts second: OpenGait's loader would open it
    evil.write_bytes(pickle.dumps(_Evil()))
    for copy in (False, True):
        with pytest.raises(GrewkitError, match="refused to unpickle posix.system") as info:
            import_opengait(project, root, dataset="x", copy=copy, show_progress=False)
        assert str(evil) in str(info.value)
    assert not (tmp_path / "pwned").exists() and not any(project.root.rglob("pwned"))
    assert not project.has("sequences") and not any((project.root / "renders").rglob("*.npy"))
