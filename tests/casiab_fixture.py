"""A grewkit project holding the real CASIA-B excerpt (subjects 075-094, view 090), for the
evaluation and training tests: imported with `grewkit import opengait`'s code, then split by
subject as CASIA-B's protocols do: 075-084 train, 085-094 test (gallery nm-01..04, the rest probes).
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pyarrow as pa

from grewkit.core.project import Project
from grewkit.interop.import_opengait import import_opengait

ARCHIVE = "casiab_090_s075-094_opengait.tar.gz"
GALLERY = {"nm-01", "nm-02", "nm-03", "nm-04"}


def build_casiab_project(root: Path, shared_data: Path, *, train_ids=range(75, 85)) -> Project:
    extracted = root / "casiab"
    with tarfile.open(shared_data / ARCHIVE) as tar:
        tar.extractall(extracted, filter="data")
    project = Project.init(root / "proj")
    import_opengait(project, extracted, dataset="casiab", show_progress=False)
    train = {f"{i:03d}" for i in train_ids}
    splits = []
    for r in project.read("sequences").to_pylist():
        is_train = r["identity_id"] in train
        splits.append(
            {
                "sequence_id": r["sequence_id"],
                "identity_id": r["identity_id"],
                "camera_id": r["camera_id"],
                "split": "train" if is_train else "test",
                "role": None if is_train else ("gallery" if r["condition"] in GALLERY else "probe"),
            }
        )
    project.write("splits", pa.Table.from_pylist(splits))
    return project
