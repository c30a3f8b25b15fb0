"""Detector backends by kind, and the detectors.toml files that configure named instances of them.

A backends file (preprocess/detectors.toml ships with grewkit; a lab points [detect]
backends_file at its own) has one table per named detector, each with a ``kind`` from
``KINDS`` and that kind's keys. ``[detect] backend`` in grewkit.toml picks one by name.
"""

from __future__ import annotations

from pathlib import Path

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry, build_from_table
from grewkit.core.resources import read_toml, shipped_dir
from grewkit.detect.base import Detector

# kind -> "module:Class". Contract: a ``Detector`` subclass built as
# ``cls.from_config(name, config, base_dir, threads)``: the table's name, the table itself (its
# kind's keys), the folder of the backends file (relative model paths) and the threads to use.
KINDS: Registry[type[Detector]] = Registry(
    "detector kind",
    {
        "ssdlite-onnx": "grewkit.detect.ssdlite:SSDLiteDetector",
        "onnx": "grewkit.detect.onnx_generic:OnnxDetector",
        "hog": "grewkit.detect.classic:HogDetector",
        "mog2": "grewkit.detect.classic:Mog2Detector",
        "mmdet": "grewkit.detect.mmdet_adapter:MMDetDetector",
    },
)


def preprocess_dir() -> Path:
    """The checkout's preprocess/ folder, or its copy inside an installed wheel."""
    return shipped_dir("preprocess")


def backends_path(configured: str = "") -> Path:
    return Path(configured).expanduser() if configured else preprocess_dir() / "detectors.toml"


def load_backends(path: Path) -> dict[str, dict]:
    doc = read_toml(path, what="detector backends file")
    for name, config in doc.items():
        if not isinstance(config, dict) or "kind" not in config:
            raise GrewkitError(f"[{name}] must be a table with a kind (one of {', '.join(KINDS)})", path=path)
        if config["kind"] not in KINDS:
            raise GrewkitError(f"[{name}] {KINDS.unknown(config['kind']).reason}", path=path)
    return doc


#: Keys of a detector table for the tracker: they change tracks, not boxes (the detect stage's fingerprint leaves
#: them out, the track stage's unit keys hash them).
TRACKER_KEYS = ("track_threshold",)
#: Keys of a detector table that are not its kind's: read here and by the tracker, never passed to ``from_config``.
SHARED_KEYS = ("without_int8_dot_product", "without_bf16", *TRACKER_KEYS)


def detector_table(name: str, backends_file: str | Path = "") -> tuple[dict, dict, Path]:
    """The table called ``name`` in the backends file, all of that file's tables, and the file's path."""
    path = backends_path(str(backends_file))
    backends = load_backends(path)
    if name not in backends:
        raise GrewkitError(f"no detector named {name!r}; defined: {', '.join(backends)}", path=path)
    return dict(backends[name]), backends, path


def track_threshold(name: str, backends_file: str | Path = "") -> float | None:
    """The score at which the detector's boxes start a track and go to ByteTrack's first association
    (``track_threshold`` in its table), or None where the table names none.

    Detectors score the same person differently (CenterNet's heat-map peaks run lower than SSDLite's class
    scores), so the tracker's thresholds belong with the detector; ``[track]`` takes them from here unless
    it sets its own (grewkit/track/settings.py)."""
    config, _, path = detector_table(name, backends_file)
    value = config.get("track_threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= 1.0:
        raise GrewkitError(f"[{name}] track_threshold = {value!r} must be a number in (0, 1]", path=path)
    return float(value)


def make_detector(name: str, *, backends_file: str | Path = "", threads: int = 1) -> Detector:
    """Build the detector called ``name`` in the backends file."""
    table, backends, path = detector_table(name, backends_file)
    config = {k: v for k, v in table.items() if k not in SHARED_KEYS}
    # An int8 model names the float model to run on CPUs whose int8 kernels are inexact; the detections
    # manifest then names the model that really ran.
    # Likewise a bfloat16 table names the float32 one to run on CPUs without bf16 instructions.
    from grewkit.core.onnx_session import has_bf16, has_int8_dot_product

    for key, present in (("without_int8_dot_product", has_int8_dot_product), ("without_bf16", has_bf16)):
        fallback = table.get(key)
        if fallback is None:
            continue
        if fallback not in backends:
            raise GrewkitError(f"[{name}] {key} names no detector: {fallback!r}", path=path)
        if not present():  # keeps its name; the model stem, checksum and runtime in it say what ran
            config = {k: v for k, v in backends[fallback].items() if k not in SHARED_KEYS}
            break
    return build_from_table(KINDS, name, config, path, threads=threads)
