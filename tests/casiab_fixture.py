"""A grewkit project holding the real CASIA-B excerpt (subjects 075-094, view 090), for the
evaluation and training tests. Built with the repository's own OpenGait reader and manifests;
the split is by subject: 075-084 train, 085-094 test (gallery nm-01..04, the rest probes)."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pyarrow as pa

from grewkit.core.arrays import load_array, sha256_file
from grewkit.core.project import Project
from grewkit.interop.opengait import iter_sequences

ARCHIVE = "casiab_090_s075-094_opengait.tar.gz"
GALLERY = {"nm-01", "nm-02", "nm-03", "nm-04"}


def build_casiab_project(root: Path, shared_data: Path, *, train_ids=range(75, 85)) -> Project:
    extracted = root / "casiab"
    with tarfile.open(shared_data / ARCHIVE) as tar:
        tar.extractall(extracted, filter="data")
    project = Project.init(root / "proj")
    seqs, splits = [], []
    train = {f"{i:03d}" for i in train_ids}
    for seq in iter_sequences(extracted):
        path = seq.files[0]
        arr = load_array(path)
        sid = f"casiab-{seq.identity}-{seq.type}-{seq.view}"
        seqs.append({"sequence_id": sid, "modality": "sil64", "tracklet_id": None, "identity_id": seq.identity,
                     "camera_id": seq.view, "view": seq.view, "condition": seq.type, "path": str(path),
                     "frames": arr.shape[0], "height": arr.shape[1], "width": arr.shape[2],
                     "sha256": sha256_file(path)})
        is_train = seq.identity in train
        splits.append({"sequence_id": sid, "identity_id": seq.identity, "camera_id": seq.view,
                       "split": "train" if is_train else "test",
                       "role": None if is_train else ("gallery" if seq.type in GALLERY else "probe")})
    project.write("sequences", pa.Table.from_pylist(seqs))
    project.write("splits", pa.Table.from_pylist(splits))
    return project
