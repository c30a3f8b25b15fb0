"""Probing one video file: what it is, whether it decodes, and the exact reason when it does not.

Checks run from cheapest to dearest, so a zero-length or mislabelled file fails in
microseconds, and the full decode (needed for an exact frame count, since headers lie about
truncated files) only runs on files that look like videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file

# Container signatures: (offset, bytes) -> container name. Enough to tell a video from a
# renamed image, archive or text file; ffmpeg decides the rest.
_SIGNATURES: list[tuple[int, bytes, str]] = [
    (8, b"AVI ", "avi"),
    (4, b"ftyp", "mp4"),
    (4, b"moov", "mp4"),
    (4, b"mdat", "mp4"),
    (4, b"wide", "mp4"),
    (0, b"\x1a\x45\xdf\xa3", "matroska"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"),
    (0, b"FLV", "flv"),
    (0, b"\x00\x00\x01\xba", "mpeg-ps"),
    (0, b"\x00\x00\x01\xb3", "mpeg-es"),
    (0, b"\x47", "mpeg-ts"),
]
_NOT_VIDEO: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
    (b"ID3", "an MP3 audio file"),
    (b"RIFF", "a RIFF file that is not AVI (WAV audio?)"),
    (b"PAR1", "a Parquet file"),
]
# Which containers each extension may hold (mp4/mov/m4v share one family, mkv/webm another).
_EXPECTED = {
    ".avi": {"avi"},
    ".mp4": {"mp4"},
    ".m4v": {"mp4"},
    ".mov": {"mp4"},
    ".3gp": {"mp4"},
    ".mkv": {"matroska"},
    ".webm": {"matroska"},
    ".wmv": {"asf"},
    ".asf": {"asf"},
    ".flv": {"flv"},
    ".mpg": {"mpeg-ps", "mpeg-es", "mpeg-ts"},
    ".mpeg": {"mpeg-ps", "mpeg-es", "mpeg-ts"},
    ".ts": {"mpeg-ts"},
    ".m2ts": {"mpeg-ts"},
}


@dataclass(frozen=True)
class Probe:
    fps: float
    frame_count: int
    header_frames: int
    width: int
    height: int
    codec: str | None
    size_bytes: int
    sha256: str
    container: str


def sniff(head: bytes) -> str | None:
    for offset, magic, name in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if name == "mpeg-ts" and not (len(head) > 188 and head[188:189] == b"\x47"):
                continue  # one 0x47 byte is too weak a signature on its own
            return name
    return None


def describe_non_video(head: bytes) -> str:
    for magic, what in _NOT_VIDEO:
        if head.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]):
        return "a text file"
    return f"unknown bytes {head[:8].hex(' ')}"


def fourcc_text(value: float) -> str | None:
    code = int(value)
    if code <= 0:
        return None
    text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return text if text.isprintable() and text.strip() else None


def probe_video(path: str | Path, *, max_missing_frames: int = 0, fallback_fps: float = 0.0) -> Probe:
    """Probe ``path`` fully; raise GrewkitError naming the file and the exact reason it cannot be used."""
    path = Path(path)
    if not path.exists():
        raise GrewkitError("file does not exist (moved or deleted since it was listed?)", path=path)
    if not path.is_file():
        raise GrewkitError("not a regular file", path=path)
    size = path.stat().st_size
    if size == 0:
        raise GrewkitError("zero-length file (0 bytes)", path=path)
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except PermissionError:
        raise GrewkitError(
            f"unreadable: permission denied (mode {oct(path.stat().st_mode & 0o777)})", path=path
        ) from None
    except OSError as exc:
        raise GrewkitError(f"unreadable: {exc.strerror or exc}", path=path) from None
    container = sniff(head)
    ext = path.suffix.lower()
    if container is None:
        raise GrewkitError(
            f"mislabelled: named {ext or '(no extension)'} but the content is {describe_non_video(head)}, "
            "not a video container",
            path=path,
        )
    expected = _EXPECTED.get(ext)
    if expected is not None and container not in expected:
        raise GrewkitError(f"mislabelled: named {ext} but the content is a {container} container", path=path)

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise GrewkitError(
                f"corrupt: FFmpeg cannot open this {container} file (damaged header or unknown codec)", path=path
            )
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        header_frames = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        codec = fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        decoded = 0
        # grab() decodes without converting to BGR: the exact count at a fraction of read()'s cost.
        while cap.grab():
            decoded += 1
    finally:
        cap.release()
    if decoded == 0:
        raise GrewkitError(f"corrupt: no frame could be decoded (header promises {header_frames})", path=path)
    if width <= 0 or height <= 0:
        raise GrewkitError(f"corrupt: no frame size in the header ({width}x{height})", path=path)
    if header_frames - decoded > max_missing_frames:
        raise GrewkitError(
            f"truncated: the header promises {header_frames} frames but only {decoded} decode "
            f"({header_frames - decoded} missing)",
            path=path,
        )
    if not (0.5 <= fps <= 1000.0):
        if fallback_fps > 0:
            fps = fallback_fps
        else:
            raise GrewkitError(
                f"no usable frame rate in the header ({fps:g} fps); set [ingest] fallback_fps to assume one", path=path
            )
    return Probe(
        fps=fps,
        frame_count=decoded,
        header_frames=header_frames,
        width=width,
        height=height,
        codec=codec,
        size_bytes=size,
        sha256=sha256_file(path),
        container=container,
    )
