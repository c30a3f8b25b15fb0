"""Settings of ``grewkit ingest`` (section ``[ingest]`` of grewkit.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting


@dataclass(frozen=True)
class IngestSettings:
    extensions: list = setting(
        [".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".m4v", ".wmv", ".asf", ".flv"],
        "File extensions that count as videos when a folder is given (case-insensitive).",
    )
    max_missing_frames: int = setting(
        0, "A video whose header promises more frames than can be decoded, by more than this, is failed as truncated."
    )
    fallback_fps: float = setting(
        0.0, "Frame rate used when a file's header has none; 0 fails such files instead of guessing."
    )
    check_resolution: bool = setting(
        True,
        "Fail a video whose resolution differs from its camera's width/height in cameras.csv (a mislabelled file).",
    )

    def __post_init__(self):
        if self.max_missing_frames < 0:
            raise ValueError("max_missing_frames must be >= 0")
        if self.fallback_fps < 0:
            raise ValueError("fallback_fps must be >= 0")
        for ext in self.extensions:
            if not isinstance(ext, str) or not ext.startswith("."):
                raise ValueError(f"extensions must look like '.avi', got {ext!r}")
