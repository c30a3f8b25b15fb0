"""Opening an ONNX model: checksum first, then a CPU session with a bounded thread count.

Two runtimes: ONNX Runtime (the default: float32 on every CPU, so every machine finds the same
boxes) and OpenVINO's CPU plugin, which can run the same graph in bfloat16 on CPUs with bf16
instructions (AVX-512 BF16, AMX): about 2x faster for CenterNet on an AMD EPYC (Zen 4), with
heat maps within about 0.015 of float32 (docs/detect.md). Both are used through ONNX Runtime's
``get_inputs()`` / ``run(None, feeds)``."""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    flags = _cpu_flags()
    if flags is None:
        return True
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def _cpu_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.partition(":")[2].split())
    return flags


def has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (x86 AVX-512 BF16 or AMX-BF16), where OpenVINO's
    ``precision = "bf16"`` pays; elsewhere OpenVINO would emulate or ignore it. ``GREWKIT_BF16`` (1 or 0)
    overrides the probe; where /proc/cpuinfo is absent it says no."""
    forced = os.environ.get("GREWKIT_BF16")
    if forced in ("0", "1"):
        return forced == "1"
    flags = _cpu_flags()
    return bool(flags and flags & {"avx512_bf16", "amx_bf16"})


RUNTIMES = ("onnxruntime", "openvino")
PRECISIONS = ("f32", "bf16")


def runtime_problem(runtime: str, precision: str) -> str | None:
    """Why ``runtime`` cannot run a model at ``precision`` (None: it can)."""
    if runtime not in RUNTIMES:
        return f"runtime {runtime!r}: use one of {', '.join(RUNTIMES)}"
    if precision not in PRECISIONS or (runtime == "onnxruntime" and precision != "f32"):
        return f"precision {precision!r}: onnxruntime runs f32; openvino f32 or bf16"
    return None


def open_session(
    model: Path, *, sha256: str | None, threads: int = 1, runtime: str = "onnxruntime", precision: str = "f32"
):
    """A session for ``model`` (``runtime``: onnxruntime, or openvino at ``precision`` f32 or bf16); a file
    whose bytes differ from ``sha256`` is refused."""
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
    problem = runtime_problem(runtime, precision)
    if problem:
        raise GrewkitError(problem, path=model)
    if runtime == "openvino":
        return OpenVinoSession(model, threads=threads, precision=precision)
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


@dataclass(frozen=True)
class SessionInput:
    """What ``get_inputs()`` tells of an input, as ONNX Runtime says it: free dimensions are names."""

    name: str
    shape: list
    type: str


class OpenVinoSession:
    """An ONNX model on OpenVINO's CPU plugin, with ONNX Runtime's interface. A model with a free input
    size is compiled once per input shape met (a video has one), since OpenVINO's static shapes run
    faster than its dynamic ones."""

    def __init__(self, model: Path, *, threads: int, precision: str):
        try:
            import openvino as ov
        except ImportError as exc:
            raise GrewkitError(f"openvino is not importable ({exc}); pip install 'grewkit[openvino]'") from None
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(model))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own for bad graphs
            raise GrewkitError(f"openvino cannot read the model: {str(exc).splitlines()[0]}", path=model) from None
        self._config = {
            "INFERENCE_NUM_THREADS": max(1, int(threads)),
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision,
            # Workers run in parallel processes: pinning each one's threads to cores would make them collide.
            "ENABLE_CPU_PINNING": False,
        }
        self._requests: dict[tuple, object] = {}
        port = self._model.inputs[0]
        shape = [d.get_length() if d.is_static else f"dim{i}" for i, d in enumerate(port.get_partial_shape())]
        element = {"f32": "float", "f16": "float16", "u8": "uint8"}.get(port.get_element_type().get_type_name(), "?")
        self._inputs = [SessionInput(port.get_any_name(), shape, f"tensor({element})")]
        self._model_path = model

    def get_inputs(self) -> list[SessionInput]:
        return self._inputs

    def run(self, output_names, feeds: dict) -> list:
        (blob,) = feeds.values()
        request = self._requests.get(blob.shape)
        if request is None:
            model = self._model.clone()
            model.reshape({0: list(blob.shape)})
            try:
                compiled = self._core.compile_model(model, "CPU", self._config)
            except Exception as exc:
                raise GrewkitError(
                    f"openvino cannot compile the model for input {list(blob.shape)}: {str(exc).splitlines()[0]}",
                    path=self._model_path,
                ) from None
            request = self._requests[blob.shape] = compiled.create_infer_request()
        request.infer({0: blob})
        return [request.get_output_tensor(i).data.copy() for i in range(len(request.model_outputs))]
