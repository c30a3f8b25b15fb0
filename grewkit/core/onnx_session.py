"""Opening an ONNX model: checksum first, then a CPU session with a bounded thread count."""

from __future__ import annotations

import os
from pathlib import Path

from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file


def has_int8_dot_product() -> bool:
    """Whether this CPU multiplies int8 vectors exactly (x86 AVX-512 VNNI / AVX-VNNI / AMX, ARM dotprod).

    Without it, ONNX Runtime's fused int8 convolutions go through AVX2's ``vpmaddubsw``, whose int16
    sums saturate: measured on an AVX2-only AMD EPYC, the INT8 SSDLite matched 19 of 25 float boxes
    on five vtest.avi frames, against 23 of 25 when the same graph runs unfused. ``GREWKIT_INT8_DOT``
    (1 or 0) overrides the probe. Where /proc/cpuinfo is absent the CPU is trusted.
    """
    forced = os.environ.get("GREWKIT_INT8_DOT")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def open_session(model: Path, *, sha256: str | None, threads: int = 1):
    """An onnxruntime session for ``model``; a file whose bytes differ from ``sha256`` is refused."""
    model = Path(model)
    if not model.is_file():
        raise GrewkitError("model file not found (see preprocess/detectors.toml)", path=model)
    if sha256:
        actual = sha256_file(model)
        if actual != sha256.lower():
            raise GrewkitError(
                f"model checksum mismatch: sha256 is {actual}, detectors.toml expects {sha256} "
                "(a damaged or replaced file)",
                path=model,
            )
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise GrewkitError(f"onnxruntime is not importable ({exc}); pip install onnxruntime") from None
    options = ort.SessionOptions()
    # Workers already run in parallel processes: one thread each avoids oversubscribing the cores.
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
        raise GrewkitError(f"onnxruntime cannot load the model: {str(exc).splitlines()[0]}", path=model) from None
