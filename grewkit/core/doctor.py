"""``grewkit doctor``: which optional backends and services work on this machine, and why not."""

from __future__ import annotations

import importlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _version(module: str) -> tuple[bool, str, object]:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # an optional backend may fail to import in many ways
        return False, f"not importable: {type(exc).__name__}: {exc}".splitlines()[0], None
    return True, getattr(mod, "__version__", "installed"), mod


def check_torch() -> list[Check]:
    ok, detail, torch = _version("torch")
    checks = [Check("torch", ok, detail)]
    if ok:
        if torch.cuda.is_available():
            checks.append(Check("cuda", True, f"{torch.cuda.device_count()} device(s): {torch.cuda.get_device_name(0)}"))
        else:
            checks.append(Check("cuda", False, "no CUDA device visible to torch (training runs on the CPU)"))
    return checks


def check_opencv() -> list[Check]:
    ok, detail, cv2 = _version("cv2")
    if not ok:
        return [Check("opencv", False, detail)]
    problems = []
    if not hasattr(cv2, "HOGDescriptor"):
        problems.append("no HOG (an OpenCV 5 build?)")
    if not hasattr(cv2, "DISOpticalFlow_create"):
        problems.append("no DIS optical flow")
    if not hasattr(cv2, "bgsegm"):
        problems.append("no contrib modules (bgsegm)")
    try:
        from importlib.metadata import distributions
        dists = sorted({d.metadata["Name"] for d in distributions() if (d.metadata["Name"] or "").lower().startswith("opencv")})
    except Exception:
        dists = []
    if len(dists) > 1:
        problems.append(f"several cv2 distributions installed ({', '.join(dists)}): they overwrite each other")
    return [Check("opencv", not problems, f"{detail}" + (f"; {'; '.join(problems)}" if problems else " (contrib, headless)"))]


def check_module(name: str, module: str, why_missing: str = "") -> Check:
    ok, detail, _ = _version(module)
    return Check(name, ok, detail if ok or not why_missing else f"{detail} ({why_missing})")


def check_mediapipe() -> Check:
    ok, detail, mp = _version("mediapipe")
    if ok and not hasattr(mp, "solutions"):
        return Check("mediapipe", False, f"{detail} has no legacy solutions/models: grewkit needs mediapipe 0.10.14")
    return Check("mediapipe", ok, detail)


def label_studio_executable() -> Path | None:
    """The Label Studio launcher: its own venv from ``make label-studio``, or one on PATH."""
    env = os.environ.get("GREWKIT_LABEL_STUDIO")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / ".venv-label-studio" / "bin" / "label-studio")
    found = shutil.which("label-studio")
    if found:
        candidates.append(Path(found))
    return next((c for c in candidates if c.is_file()), None)


def check_label_studio(url: str | None = None) -> list[Check]:
    exe = label_studio_executable()
    checks = [Check("label-studio", exe is not None,
                    str(exe) if exe else "not installed: run `make label-studio` (its own virtual environment)")]
    if url:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=3) as response:
                body = response.read(200).decode(errors="replace")
            checks.append(Check("label-studio server", '"UP"' in body, f"{url}: {body.strip()}"))
        except OSError as exc:
            checks.append(Check("label-studio server", False, f"{url}: {exc}"))
    return checks


def check_openmmlab() -> Check:
    """mmdet/mmpose in their own venv (make openmmlab), run through a worker process."""
    from grewkit.openmmlab import ENV_VAR, openmmlab_python, probe

    python = openmmlab_python()
    if python is None:
        return Check("openmmlab (mmdet, mmpose)", False,
                     f"not installed: run `make openmmlab` (its own virtual environment) or set ${ENV_VAR}")
    ok, detail = probe(python)
    return Check("openmmlab (mmdet, mmpose)", ok, detail)


def run_checks(label_studio_url: str | None = None) -> list[Check]:
    checks = [*check_torch(), *check_opencv()]
    checks.append(check_module("onnxruntime", "onnxruntime"))
    checks.append(check_module("numba", "numba", "search falls back to plain torch, about 2x slower"))
    checks.append(check_mediapipe())
    checks.append(check_module("trackers (ByteTrack)", "trackers"))
    checks.append(check_openmmlab())
    checks.append(check_module("ray", "ray", "optional: pip install 'grewkit[ray]'"))
    checks.append(check_module("label-studio-sdk", "label_studio_sdk.base_client",
                               "the annotate client: make setup installs it --no-deps"))
    checks.extend(check_label_studio(label_studio_url))
    return checks
