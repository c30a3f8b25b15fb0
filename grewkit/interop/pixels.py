"""The no-RGB rule of a release: nothing grewkit exports may hold a colour pixel.

A GREW-style release publishes silhouettes, GEIs, flow and poses, never appearance. The
exporter passes every array through ``check_array`` before writing it, writes images only as
single-channel PNG, and ``scan_release`` re-reads every file of a finished release (the
exporter runs it at the end; the tests run it on their own).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv", ".ts", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
TEXT_SUFFIXES = {".csv", ".json", ".txt", ".md", ".html"}
MIN_SIDE = 8  # a frame narrower than this is a colour axis, not an image side
# Modality names as render writes them: sil64, sil128 (T, H, W); gei64 (H, W); sil64_frames and
# frames are (T,) frame numbers; flow (T, H, W, 2); pose2d / pose3d (T, J, C).
SILHOUETTE = re.compile(r"^sil\d+$")
GEI = re.compile(r"^gei\d*$")


def is_silhouette(modality: str) -> bool:
    return bool(SILHOUETTE.match(modality))


def is_gei(modality: str) -> bool:
    return bool(GEI.match(modality))


def check_array(array: np.ndarray, modality: str, *, source: str | Path) -> None:
    """Refuse anything that could carry colour: only 2-D frames, flow with 2 channels, and pose coordinates pass."""
    if array.dtype.hasobject:
        raise GrewkitError("refusing an array of Python objects", path=source)
    shape = array.shape
    if modality.startswith("pose"):
        # Coordinates (T, J, 2|3|4) as numbers, never an image: refuse integer pixel-like arrays.
        if array.ndim != 3 or shape[-1] not in (2, 3, 4) or not np.issubdtype(array.dtype, np.floating):
            raise GrewkitError(
                f"{modality} must be float coordinates (T, joints, 2..4), got {array.dtype} {shape}", path=source
            )
        return
    if array.ndim == 1:
        # Frame numbers and other per-frame indices: integers wider than a byte, never pixels.
        if not np.issubdtype(array.dtype, np.integer) or array.dtype.itemsize < 4:
            raise GrewkitError(
                f"{modality}: a 1-D array must hold frame numbers (int32/int64), got {array.dtype}", path=source
            )
        return
    if modality.startswith("flow"):
        if array.ndim != 4 or shape[-1] != 2 or min(shape[1:3]) < MIN_SIDE:
            raise GrewkitError(
                f"flow must be (T, H, W, 2) displacements, got {shape}; colour-coded flow is refused", path=source
            )
        return
    frames = shape if array.ndim == 2 else shape[1:]
    if array.ndim not in (2, 3) or min(frames) < MIN_SIDE:
        raise GrewkitError(
            f"{modality} must be single-channel frames (H, W) or (T, H, W), got {shape}: looks like colour (RGB) pixels, "
            "which a release never holds",
            path=source,
        )


def check_image_file(path: Path) -> None:
    """An image file is allowed only with one channel (or channels that are all equal)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise GrewkitError("not a readable image", path=path)
    if image.ndim == 3 and image.shape[2] >= 3:
        colour = image[..., :3]
        if not (np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 1], colour[..., 2])):
            raise GrewkitError(f"colour image ({image.shape[2]} channels with different values)", path=path)
        raise GrewkitError(
            f"image stored with {image.shape[2]} channels; a release stores single-channel images", path=path
        )


def scan_release(root: str | Path) -> list[str]:
    """Every problem of a written release: colour images, video files, colour arrays, unknown files."""
    from grewkit.core.arrays import load_array

    problems: list[str] = []
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        try:
            if suffix in VIDEO_SUFFIXES:
                raise GrewkitError("video file in a release (releases hold no footage)", path=path)
            if suffix in IMAGE_SUFFIXES:
                check_image_file(path)
            elif suffix in (".npy", ".pkl"):
                check_array(
                    load_array(path), path.stem if path.stem in ("flow", "pose2d", "pose3d") else "frames", source=path
                )
            elif suffix not in TEXT_SUFFIXES:
                raise GrewkitError(f"unexpected file type {suffix or '(none)'!r} in a release", path=path)
        except GrewkitError as exc:
            problems.append(str(exc))
    return problems
