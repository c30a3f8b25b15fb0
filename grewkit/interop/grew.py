"""The GREW-style release layout, shared by the exporter and the importer.

::

    OUT/train/<identity>/<seq>/            train sequences, public identities
    OUT/val/gallery/<identity>/<seq>/      val (a development set: identities public)
    OUT/val/probe/<identity>/<seq>/
    OUT/test/gallery/<identity>/<seq>/     test gallery
    OUT/test/probe/<seq>/                  test probes: no identity
    OUT/distractors/<seq>/                 distractors: no identity
    OUT/index.csv, OUT/README.md

A sequence folder holds ``sil64/00001.png ...`` (one single-channel PNG per frame, any
``sil*`` modality), ``gei.png``, ``flow.npy`` (T, H, W, 2), ``pose2d.csv`` (a header line with
the original image size, then ``frame,joint,x,y,score``), ``pose3d.npy`` (T, J, 3). Sequence
names are 8 random-looking characters (as in GREW); the private answer key that maps them back
to sequences and identities is written to a separate folder.

The reader also accepts GREW's own release (frames as PNG directly in the sequence folder,
``distractor/`` spelled singular) and OpenGait-pretreated ``.pkl`` files in a sequence folder.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError

POSE_HEADER = re.compile(r"^#.*image_width=(\w+).*image_height=(\w+)")


def sequence_folder(split: str, role: str | None, identity: str | None, name: str) -> tuple[str, ...]:
    if split == "train":
        return ("train", identity, name)
    if split == "val":
        return ("val", role, identity, name)
    if split == "test":
        return ("test", "gallery", identity, name) if role == "gallery" else ("test", "probe", name)
    if split == "distractor":
        return ("distractors", name)
    raise GrewkitError(f"unknown split {split!r}")


@dataclass(frozen=True)
class ReleaseSequence:
    name: str
    split: str
    role: str | None
    identity: str | None  # public identity folder name, None for test probes and distractors
    folder: Path


def _children(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def iter_release(root: str | Path) -> Iterator[ReleaseSequence]:
    root = Path(root)
    if not root.is_dir():
        raise GrewkitError("not a folder", path=root)
    found = False
    for ident in _children(root / "train"):
        for seq in _children(ident):
            found = True
            yield ReleaseSequence(seq.name, "train", None, ident.name, seq)
    for split in ("val", "test"):
        for ident in _children(root / split / "gallery"):
            for seq in _children(ident):
                found = True
                yield ReleaseSequence(seq.name, split, "gallery", ident.name, seq)
    for ident in _children(root / "val" / "probe"):
        for seq in _children(ident):
            found = True
            yield ReleaseSequence(seq.name, "val", "probe", ident.name, seq)
    for seq in _children(root / "test" / "probe"):
        found = True
        yield ReleaseSequence(seq.name, "test", "probe", None, seq)
    for folder in ("distractors", "distractor"):
        for seq in _children(root / folder):
            found = True
            yield ReleaseSequence(seq.name, "distractor", None, None, seq)
    if not found:
        raise GrewkitError(
            "no train/, test/ or distractors/ sequences found (is this a GREW-style release?)", path=root
        )


def read_frames(files: list[Path]) -> np.ndarray:
    """Single-channel PNG frames stacked into (T, H, W) uint8."""
    import cv2

    frames = []
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise GrewkitError("not a readable image", path=f)
        if image.ndim != 2:
            raise GrewkitError(f"expected a single-channel silhouette, got shape {image.shape}", path=f)
        if frames and image.shape != frames[0].shape:
            raise GrewkitError(f"frame size {image.shape} differs from the sequence's {frames[0].shape}", path=f)
        frames.append(image.astype(np.uint8, copy=False))
    return np.stack(frames)


def write_pose2d_csv(array: np.ndarray, *, width: int | None, height: int | None) -> bytes:
    """(T, J, 2|3) as CSV with the original image size on the first line."""
    out = io.StringIO()
    out.write(
        f"# grewkit pose2d v1; coordinates in pixels of the original image; "
        f"image_width={width if width else 'unknown'}; image_height={height if height else 'unknown'}\n"
    )
    out.write("frame,joint,x,y,score\n")
    for t in range(array.shape[0]):
        for j in range(array.shape[1]):
            x, y = array[t, j, 0], array[t, j, 1]
            score = f"{array[t, j, 2]:.9g}" if array.shape[2] > 2 else ""
            out.write(f"{t},{j},{x:.9g},{y:.9g},{score}\n")
    return out.getvalue().encode()


def read_pose2d_csv(path: Path) -> tuple[np.ndarray, int | None, int | None]:
    """The array and the original image size (None when unknown) of a pose2d CSV."""
    text = path.read_text()
    lines = text.splitlines()
    match = POSE_HEADER.match(lines[0]) if lines else None
    if not match:
        raise GrewkitError(
            "pose2d CSV lacks the image size header line (# ... image_width=W; image_height=H)", path=path
        )
    size = [int(v) if v.isdigit() else None for v in match.groups()]
    rows = list(csv.DictReader(lines[1:]))
    if not rows:
        raise GrewkitError("pose2d CSV has no rows", path=path)
    try:
        t_n = max(int(r["frame"]) for r in rows) + 1
        j_n = max(int(r["joint"]) for r in rows) + 1
        has_score = rows[0]["score"] != ""
        array = np.zeros((t_n, j_n, 3 if has_score else 2), np.float32)
        for r in rows:
            t, j = int(r["frame"]), int(r["joint"])
            array[t, j, 0], array[t, j, 1] = float(r["x"]), float(r["y"])
            if has_score:
                array[t, j, 2] = float(r["score"])
    except (KeyError, ValueError) as exc:
        raise GrewkitError(f"malformed pose2d CSV ({exc})", path=path) from None
    return array, size[0], size[1]
