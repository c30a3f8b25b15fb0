"""``grewkit export grew``: a GREW-style release and, apart from it, the private answer key.

The release holds silhouettes, GEIs, flow and poses, never a colour pixel: every array passes
``pixels.check_array`` before it is written, images are written as single-channel PNG, and the
finished release is re-read by ``pixels.scan_release``. Sequence names are keyed hashes (8
characters, as in GREW) and identities are renumbered per set, so nothing in a probe's name,
folder or index row tells its identity; the key folder maps everything back.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.arrays import load_array
from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.export.selection import ExportSequence, split_sequences
from grewkit.export.target import ExportTarget
from grewkit.interop.grew import sequence_folder, write_pose2d_csv
from grewkit.interop.pixels import check_array, is_gei, is_silhouette, scan_release

KEY_FILE = "answer_key.csv"
KEY_COLUMNS = ("name", "sequence_id", "identity_id", "public_identity", "camera_id", "split", "role")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class GrewExport:
    sequences: int
    files: int
    counts: dict[str, int]
    key_dir: Path


def _salt(key_dir: Path) -> bytes:
    """The secret behind the sequence names: reused from an earlier export so reruns give the same names."""
    path = key_dir / "salt.hex"
    if path.is_file():
        return bytes.fromhex(path.read_text().strip())
    salt = os.urandom(16)
    write_text(path, salt.hex() + "\n")
    return salt


def release_name(salt: bytes, sequence_id: str, length: int = 8) -> str:
    digest = hmac.new(salt, sequence_id.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, r = divmod(number, len(_ALPHABET))
        chars.append(chr(_ALPHABET[r]))
    return "".join(chars)


def _image_sizes(project: Project) -> dict[str, tuple[int, int]]:
    """camera_id -> (width, height) of the original footage, for the pose CSV header."""
    sizes: dict[str, tuple[int, int]] = {}
    if project.has("videos"):
        for r in project.read("videos", ["camera_id", "width", "height"]).to_pylist():
            if r["width"] and r["height"]:
                sizes.setdefault(r["camera_id"], (r["width"], r["height"]))
    if project.has("cameras"):
        for r in project.read("cameras", ["camera_id", "width", "height"]).to_pylist():
            if r["width"] and r["height"]:
                sizes[r["camera_id"]] = (r["width"], r["height"])
    return sizes


def _as_uint8_image(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating) and array.size and float(np.nanmax(array)) <= 1.0:
        array = array * 255.0
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def _png(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", image)  # a 2-D array always encodes as a single-channel PNG
    if not ok:
        raise GrewkitError("could not encode a PNG")
    return data.tobytes()


def _write_modality(
    target: ExportTarget,
    folder: tuple[str, ...],
    modality: str,
    array: np.ndarray,
    image_size: tuple[int, int] | None,
    source: Path,
) -> int:
    check_array(array, modality, source=source)
    if is_silhouette(modality):
        frames = _as_uint8_image(array if array.ndim == 3 else array[None])
        for t, frame in enumerate(frames):
            target.write(
                (
                    *folder,
                    modality,
                    f"{t + 1:05d}.png",
                ),
                _png(frame),
            )
        return len(frames)
    if is_gei(modality):
        target.write(
            (
                *folder,
                f"{modality}.png",
            ),
            _png(_as_uint8_image(array if array.ndim == 2 else array.mean(0))),
        )
        return 1
    if modality == "pose2d":
        width, height = image_size or (None, None)
        target.write(
            (
                *folder,
                "pose2d.csv",
            ),
            write_pose2d_csv(array, width=width, height=height),
        )
        return 1
    if array.ndim == 1 and len(array):
        # Frame numbers: published relative to the sequence's first frame. Absolute numbers would
        # date every sequence, and dates link a probe to the gallery sequences recorded with it.
        array = array - array[0]
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    target.write(
        (
            *folder,
            f"{modality}.npy",
        ),
        buffer.getvalue(),
    )
    return 1


def _key_rows(sequences: list[ExportSequence], salt: bytes) -> list[dict]:
    for length in (8, 10, 12):
        names = {s.sequence_id: release_name(salt, s.sequence_id, length) for s in sequences}
        if len(set(names.values())) == len(names):
            break
    else:  # pragma: no cover - 12 base62 characters do not collide in practice
        raise GrewkitError("could not give every sequence a distinct release name")
    public: dict[tuple[str, str], str] = {}
    for split in ("train", "val", "test"):
        ids = sorted({s.identity_id for s in sequences if s.split == split and s.identity_id is not None})
        public.update({(split, i): f"{k + 1:05d}" for k, i in enumerate(ids)})
    rows = []
    for s in sequences:
        rows.append(
            {
                "name": names[s.sequence_id],
                "sequence_id": s.sequence_id,
                "identity_id": s.identity_id,
                "public_identity": public.get((s.split, s.identity_id)) if s.split != "distractor" else None,
                "camera_id": s.camera_id,
                "split": s.split,
                "role": s.role,
            }
        )
    return rows


def _csv(rows: list[dict], columns) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: ("" if r.get(c) is None else r[c]) for c in columns})
    return out.getvalue()


def export_grew(
    project: Project, out, *, key_dir=None, modalities: list[str] | None = None, show_progress: bool = True
) -> GrewExport:
    out = Path(out).resolve()
    key_dir = Path(key_dir).resolve() if key_dir else out.with_name(out.name + "-answer-key")
    if key_dir == out or out in key_dir.parents or key_dir in out.parents:
        raise GrewkitError(
            "the answer key must be kept apart from the release (neither folder inside the other)", path=key_dir
        )
    sequences = split_sequences(project)
    if modalities:
        for s in sequences:
            s.files = {m: p for m, p in s.files.items() if m in modalities}
    target = ExportTarget(out, "grew")
    key_dir.mkdir(parents=True, exist_ok=True)
    rows = _key_rows(sequences, _salt(key_dir))
    sizes = _image_sizes(project)
    index = []
    files = 0
    with progress_bar("export grew", total=len(sequences), unit="seq", enabled=show_progress) as advance:
        for s, row in zip(sequences, rows):
            folder = sequence_folder(s.split, s.role, row["public_identity"], row["name"])
            frames = 0
            for modality in sorted(s.files):
                source = project.resolve(s.files[modality])
                array = load_array(source)
                files += _write_modality(target, folder, modality, array, sizes.get(s.camera_id), source)
                if is_silhouette(modality):
                    frames = max(frames, len(array))
            hidden = s.split == "distractor" or (s.split == "test" and s.role == "probe")
            index.append(
                {
                    "name": row["name"],
                    "split": s.split,
                    "role": s.role,
                    "identity": None if hidden else row["public_identity"],
                    "frames": frames,
                    "modalities": " ".join(sorted(s.files)),
                    "folder": "/".join(folder),
                }
            )
            advance(1)
    # Probes last in no particular identity order: the index is sorted by folder, i.e. by random name.
    index.sort(key=lambda r: r["folder"])
    target.write(
        ("index.csv",), _csv(index, ("name", "split", "role", "identity", "frames", "modalities", "folder")).encode()
    )
    counts = {}
    for r in index:
        k = r["split"] if not r["role"] else f"{r['split']} {r['role']}"
        counts[k] = counts.get(k, 0) + 1
    target.write(("README.md",), _readme(project, counts).encode())
    problems = scan_release(out)
    if problems:  # cannot happen through check_array; the scan is the second lock on the door
        raise GrewkitError("release scan found pixels that must not be published: " + "; ".join(problems[:5]), path=out)
    write_text(key_dir / KEY_FILE, _csv(rows, KEY_COLUMNS))
    write_text(
        key_dir / "README.md",
        "Private answer key of a grewkit GREW-style release. Do not publish.\n"
        "answer_key.csv maps every release name to its sequence, identity, camera, split and role;\n"
        "salt.hex is the secret behind the names (reused so that a re-export keeps them).\n",
    )
    target.finish({"sequences": len(sequences), "files": files})
    return GrewExport(sequences=len(sequences), files=files, counts=counts, key_dir=key_dir)


def _readme(project: Project, counts: dict[str, int]) -> str:
    name = project.settings.section("project").name
    lines = [
        f"# {name}: GREW-style release",
        "",
        "Gait data only: silhouettes (one single-channel PNG per frame), GEIs, optical flow (T, H, W, 2),",
        "2D poses (CSV; the first line gives the original image size) and 3D poses. No RGB pixel.",
        "",
        "| part | sequences |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in sorted(counts.items())]
    lines += [
        "",
        "Test probes and distractors carry no identity; `index.csv` lists every sequence.",
        "Written by grewkit (`grewkit export grew`); `grewkit import grew` reads it back.",
        "",
    ]
    return "\n".join(lines)
