"""``grewkit doctor``: which optional backends and services work on this machine, and why not.

It checks the whole installation, so it sits above every package rather than in ``core``.
"""

from __future__ import annotations

import importlib
import urllib.request
from dataclasses import dataclass

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table


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


def check_label_studio(url: str | None = None) -> list[Check]:
    from grewkit.annotate.backends.labelstudio import label_studio_executable

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


def check_int8() -> Check:
    from grewkit.detect.onnx_session import has_int8_dot_product

    if has_int8_dot_product():
        return Check("int8 inference", True, "exact int8 dot product (VNNI / dotprod): the INT8 detector runs")
    return Check("int8 inference", False, "no VNNI / dotprod: int8 kernels saturate, so the default detector "
                                          "runs its float model")


def run_checks(label_studio_url: str | None = None) -> list[Check]:
    checks = [*check_torch(), *check_opencv()]
    checks.append(check_module("onnxruntime", "onnxruntime"))
    checks.append(check_int8())
    checks.append(check_module("numba", "numba", "search falls back to plain torch, about 2x slower"))
    checks.append(check_mediapipe())
    checks.append(check_module("trackers (ByteTrack)", "trackers"))
    checks.append(check_module("mmdet", "mmdet", "optional OpenMMLab backend; bring your own environment and checkpoints"))
    checks.append(check_module("ray", "ray", "optional: pip install 'grewkit[ray]'"))
    checks.append(check_module("label-studio-sdk", "label_studio_sdk.base_client",
                               "the annotate client: make setup installs it --no-deps"))
    checks.extend(check_label_studio(label_studio_url))
    return checks


@click.command("doctor")
@click.option("--label-studio-url", default=None, help="Also check that a Label Studio server answers at this URL.")
def doctor_command(label_studio_url):
    """Report which optional backends and services are usable here, and why not.

    \b
    Example:
      grewkit doctor --label-studio-url http://127.0.0.1:8080
    """
    table = Table(title="grewkit doctor")
    table.add_column("component")
    table.add_column("usable")
    table.add_column("detail")
    for check in run_checks(label_studio_url):
        table.add_row(check.name, "[green]yes[/green]" if check.ok else "[yellow]no[/yellow]", escape(check.detail))
    Console().print(table)
