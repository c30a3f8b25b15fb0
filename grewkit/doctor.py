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

from grewkit.core.errors import GrewkitError


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
            checks.append(
                Check("cuda", True, f"{torch.cuda.device_count()} device(s): {torch.cuda.get_device_name(0)}")
            )
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

        dists = sorted(
            {d.metadata["Name"] for d in distributions() if (d.metadata["Name"] or "").lower().startswith("opencv")}
        )
    except Exception:
        dists = []
    if len(dists) > 1:
        problems.append(f"several cv2 distributions installed ({', '.join(dists)}): they overwrite each other")
    return [
        Check(
            "opencv", not problems, f"{detail}" + (f"; {'; '.join(problems)}" if problems else " (contrib, headless)")
        )
    ]


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
    checks = [
        Check(
            "label-studio",
            exe is not None,
            str(exe) if exe else "not installed: run `make label-studio` (its own virtual environment)",
        )
    ]
    if url:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=3) as response:
                body = response.read(200).decode(errors="replace")
            checks.append(Check("label-studio server", '"UP"' in body, f"{url}: {body.strip()}"))
        except OSError as exc:
            checks.append(Check("label-studio server", False, f"{url}: {exc}"))
    return checks


def check_int8() -> Check:
    from grewkit.core.onnx_session import has_int8_dot_product

    if has_int8_dot_product():
        return Check(
            "int8 inference", True, "exact int8 dot product (VNNI / dotprod): `ssdlite-int8` runs its INT8 model"
        )
    return Check(
        "int8 inference",
        False,
        "no VNNI / dotprod: int8 kernels saturate, so `ssdlite-int8` runs the float model (the default `ssdlite`)",
    )


def check_bf16() -> Check:
    from grewkit.core.onnx_session import has_bf16

    ok, version, _ = _version("openvino")
    if has_bf16() and ok:
        return Check(
            "bf16 inference",
            True,
            f"bf16 instructions and openvino {version.split('-')[0]}: `centernet-bf16` runs in bfloat16",
        )
    why = (
        "no AVX-512 BF16 / AMX-BF16"
        if not has_bf16()
        else f"openvino missing ({version}): pip install 'grewkit[openvino]'"
    )
    return Check("bf16 inference", False, f"{why}: `centernet-bf16` runs the float model (the default `centernet`)")


def check_openmmlab() -> Check:
    """mmdet/mmpose in their own venv (make openmmlab), run through a worker process."""
    from grewkit.openmmlab import ENV_VAR, openmmlab_python, probe

    python = openmmlab_python()
    if python is None:
        return Check(
            "openmmlab (mmdet, mmpose)",
            False,
            f"not installed: run `make openmmlab` (its own virtual environment) or set ${ENV_VAR}",
        )
    ok, detail = probe(python)
    return Check("openmmlab (mmdet, mmpose)", ok, detail)


def run_checks(label_studio_url: str | None = None) -> list[Check]:
    checks = [*check_torch(), *check_opencv()]
    checks.append(check_module("onnxruntime", "onnxruntime"))
    checks.append(check_int8())
    checks.append(check_bf16())
    checks.append(check_module("numba", "numba", "search falls back to plain torch, about 2x slower"))
    checks.append(check_mediapipe())
    checks.append(check_module("trackers (ByteTrack)", "trackers"))
    checks.append(check_openmmlab())
    checks.append(check_module("ray", "ray", "optional: pip install 'grewkit[ray]'"))
    checks.append(
        check_module(
            "label-studio-sdk", "label_studio_sdk.base_client", "the annotate client: make setup installs it --no-deps"
        )
    )
    checks.extend(check_label_studio(label_studio_url))
    return checks


def project_checks(project) -> list[Check]:
    """The project's settings load, and the detector and pose estimator they name exist and import here
    (nothing is run)."""
    return [Check("project", True, f"{project.root}: settings valid"), _detector_check(project), _pose_check(project)]


def _detector_check(project) -> Check:
    from grewkit.detect.registry import KINDS, backends_path, load_backends

    settings = project.settings.section("detect")
    name = f"detector [{settings.backend}]"
    try:
        path = backends_path(settings.backends_file)
        backends = load_backends(path)
        if settings.backend not in backends:
            return Check(name, False, f"not defined in {path}; defined: {', '.join(backends)}")
        kind = backends[settings.backend]["kind"]
        KINDS.get(kind)  # imports the backend's module: a missing optional package is named
    except GrewkitError as exc:
        return Check(name, False, str(exc))
    return Check(name, True, f"kind {kind!r} from {path}")


def _pose_check(project) -> Check:
    from grewkit.render.pose_estimators import KINDS, MEDIAPIPE, estimator_table, estimators_path

    settings = project.settings.section("render")
    name = f"pose estimator [{settings.pose_estimator}]"
    if settings.pose_estimator == MEDIAPIPE:
        return Check(name, True, "built in (BlazePose)")
    try:
        table = estimator_table(settings.pose_estimator, settings.pose_estimators_file)
        KINDS.get(table["kind"])
    except GrewkitError as exc:
        return Check(name, False, str(exc))
    return Check(name, True, f"kind {table['kind']!r} from {estimators_path(settings.pose_estimators_file)}")


@click.command("doctor")
@click.option(
    "--project",
    "-p",
    "project_dir",
    default=None,
    envvar="GREWKIT_PROJECT",
    type=click.Path(file_okay=False),
    help="Also check what this project's settings ask for (its detector and pose estimator).",
)
@click.option("--label-studio-url", default=None, help="Also check that a Label Studio server answers at this URL.")
def doctor_command(project_dir, label_studio_url):
    """Report which optional backends and services are usable here, and why not.

    Works outside a project; with --project it also checks that project's settings.

    \b
    Examples:
      grewkit doctor --label-studio-url http://127.0.0.1:8080
      grewkit doctor -p demo
    """
    from grewkit.core.project import Project

    checks = run_checks(label_studio_url)
    if project_dir is not None:
        checks += project_checks(Project.open(project_dir))
    table = Table(title="grewkit doctor")
    table.add_column("component")
    table.add_column("usable")
    table.add_column("detail")
    for check in checks:
        table.add_row(
            escape(check.name), "[green]yes[/green]" if check.ok else "[yellow]no[/yellow]", escape(check.detail)
        )
    Console().print(table)
