"""The ``[evaluate]`` section of grewkit.toml: a project's evaluation conventions, fixed once."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting
from grewkit.evaluate.conventions import DISTANCE_NAMES, EXCLUDE, NO_MATCH, TIES


@dataclass(frozen=True)
class EvaluateSettings:
    distance: str = setting(
        "auto",
        "auto (each protocol's OpenGait distance: euclidean_parts), euclidean, "
        "euclidean_parts, cosine or cosine_parts (docs/evaluation.md).",
    )
    no_match: str = setting("miss", "Probes without a true match: 'miss' (GREW) or 'skip' (Gait3D).")
    exclude: str = setting(
        "none", "Gallery entries removed per probe: none, same-camera, same-view or same-identity-camera (CCPG)."
    )
    ties: str = setting(
        "pessimistic", "A true match tied with another identity ranks after it (pessimistic) or before."
    )
    probe_chunk: int = setting(
        2048,
        "Probes per search block on a GPU or without numba (memory: probe_chunk x gallery_chunk x 4 bytes); "
        "the CPU path works in runs of 256 probes per thread.",
    )
    gallery_chunk: int = setting(
        4096,
        "Gallery entries per search block; 4096 keeps a block in the CPU cache (docs/benchmarks.md), larger suits a GPU.",
    )
    device: str = setting("cpu", "Where the search runs: cpu or cuda.")

    def __post_init__(self):
        for name, allowed in (
            ("distance", DISTANCE_NAMES + ("auto",)),
            ("no_match", NO_MATCH),
            ("exclude", EXCLUDE),
            ("ties", TIES),
        ):
            if getattr(self, name) not in allowed:
                # ValueError: the settings loader reports it with the file's name.
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.probe_chunk < 1 or self.gallery_chunk < 1:
            raise ValueError("probe_chunk and gallery_chunk must be positive")
