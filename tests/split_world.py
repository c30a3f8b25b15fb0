"""A small synthetic world for the split/export/report tests: identities walking past cameras.

Each sequence gets real files (silhouettes, GEI, flow, 2D/3D pose) so validate, export and
report run on the real code paths. Used until the synthetic-world stage's ground truth lands.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from grewkit.core.arrays import save_array


def world_rows(*, n_multi=40, n_single=10, n_unlabelled=6, cameras=6, seed=0) -> pa.Table:
    """(sequence_id, identity_id, camera_id): multi-camera identities with 3-8 sequences over 2-4 cameras,
    single-camera identities, and unlabelled sequences."""
    rng = np.random.default_rng(seed)
    cams = [f"cam{c:02d}" for c in range(cameras)]
    rows = []
    for i in range(n_multi):
        # Each identity walks in a neighbourhood of cameras, so a camera-disjoint split can keep many.
        base = rng.integers(cameras)
        seen = [cams[(base + k) % cameras] for k in range(rng.integers(2, 4))]
        for k in range(rng.integers(3, 9)):
            rows.append((f"s-id{i:03d}-{k}", f"id{i:03d}", seen[k % len(seen)]))
    for i in range(n_single):
        cam = cams[rng.integers(cameras)]
        for k in range(rng.integers(1, 4)):
            rows.append((f"s-one{i:03d}-{k}", f"one{i:03d}", cam))
    for k in range(n_unlabelled):
        rows.append((f"s-unk-{k}", None, cams[rng.integers(cameras)]))
    seq, ident, cam = zip(*rows)
    return pa.table({"sequence_id": list(seq), "identity_id": list(ident), "camera_id": list(cam)})


def write_world(project, rows: pa.Table | None = None, *, modalities=("sil64",), seed=0) -> pa.Table:
    """Write files for every sequence and the sequences manifest; return the manifest rows."""
    rows = rows if rows is not None else world_rows(seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for seq, ident, cam in zip(*(rows.column(c).to_pylist() for c in ("sequence_id", "identity_id", "camera_id"))):
        frames = int(rng.integers(20, 60))
        sil = np.zeros((frames, 64, 44), np.uint8)
        sil[:, 8:60, 12 + rng.integers(0, 8) : 30] = 255
        arrays = {
            "sil64": sil,
            "sil64_frames": 1000
            + np.arange(frames, dtype=np.int64) * 2,  # frame numbers of the silhouettes, as render writes
            "gei64": sil.mean(axis=0).astype(np.uint8),
            "flow": rng.integers(-127, 128, size=(frames - 1, 64, 44, 2)).astype(np.int8),
            "pose2d": np.concatenate(
                [rng.uniform(0, 640, (frames, 17, 2)), rng.uniform(0, 1, (frames, 17, 1))], -1
            ).astype(np.float32),
            "pose3d": rng.normal(size=(frames, 17, 3)).astype(np.float32),
        }
        for modality in modalities:
            array = arrays[modality]
            path = project.folder("renders") / modality / f"{seq}.npy"
            digest = save_array(path, array)
            h, w = (
                (array.shape[1], array.shape[2])
                if modality in ("sil64", "flow")
                else ((array.shape[0], array.shape[1]) if modality == "gei64" else (0, 0))
            )
            out.append(
                {
                    "sequence_id": seq,
                    "modality": modality,
                    "tracklet_id": None,
                    "identity_id": ident,
                    "camera_id": cam,
                    "view": None,
                    "condition": None,
                    "path": project.relative(path),
                    "frames": 1 if modality == "gei64" else int(array.shape[0]),
                    "height": h,
                    "width": w,
                    "sha256": digest,
                }
            )
    table = pa.Table.from_pylist(out)
    project.write("sequences", table)
    return table


def set_split_settings(project, text: str) -> None:
    """Replace the [split] section of the project's grewkit.toml with ``text``."""
    path = project.settings_path
    body = path.read_text()
    start = body.index("[split]")
    end = body.find("\n[", start + 1)
    end = len(body) if end < 0 else end
    path.write_text(body[:start] + "[split]\n" + text + body[end:])


def small_world(project, *, modalities=("sil64",), split_settings="ratios = [6, 1, 3]\n"):
    """A ~70-sequence world, written and split; returns the splits table."""
    from grewkit.split.cli import split_project

    write_world(project, world_rows(n_multi=16, n_single=4, n_unlabelled=3), modalities=modalities)
    set_split_settings(project, split_settings)
    return split_project(project)[0].table
