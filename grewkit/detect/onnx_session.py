"""Opening an ONNX model: checksum first, then a CPU session with a bounded thread count."""

from __future__ import annotations

from pathlib import Path

from grewkit.core.errors import GrewkitError
from grewkit.core.hashing import sha256_file


def open_session(model: Path, *, sha256: str | None, threads: int = 1):
    """An onnxruntime session for ``model``; a file whose bytes differ from ``sha256`` is refused."""
    model = Path(model)
    if not model.is_file():
        raise GrewkitError("model file not found (see preprocess/detectors.toml)", path=model)
    if sha256:
        actual = sha256_file(model)
        if actual != sha256.lower():
            raise GrewkitError(f"model checksum mismatch: sha256 is {actual}, detectors.toml expects {sha256} "
                               "(a damaged or replaced file)", path=model)
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
