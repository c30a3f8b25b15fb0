"""OpenMMLab (mmdet, mmpose) models run in their own virtual environment, through a worker process.

mmcv, mmdet and mmpose pin what grewkit's environment cannot hold (numpy<2 for xtcocotools, a
torch that torchvision imports beside, mmcv compiled against it), so ``make openmmlab`` builds
``.venv-openmmlab`` beside the checkout and grewkit talks to a worker started with that venv's
python (``grewkit.openmmlab.worker``, which imports nothing from grewkit). The python is found as
``$GREWKIT_OPENMMLAB_PYTHON``, else ``.venv-openmmlab/bin/python`` of the checkout, the way
Label Studio's own venv is found.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from grewkit.core.errors import GrewkitError

ENV_VAR = "GREWKIT_OPENMMLAB_PYTHON"


def openmmlab_python() -> Path | None:
    """The OpenMMLab venv's python: ``$GREWKIT_OPENMMLAB_PYTHON`` or the checkout's .venv-openmmlab."""
    env = os.environ.get(ENV_VAR)
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / ".venv-openmmlab" / "bin" / "python")
    return next((c for c in candidates if c.is_file()), None)


def probe(python: Path, timeout: float = 120.0) -> tuple[bool, str]:
    """Whether mmdet and mmpose import in that python, with their versions or the first error line."""
    code = (
        "import mmcv, mmdet, mmpose, torch; "
        "print(f'mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmpose {mmpose.__version__}, "
        "torch {torch.__version__}')"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    try:
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{python}: {exc}"
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return False, f"{python}: {lines[-1] if lines else f'exit status {done.returncode}'}"
    return True, f"{python}: {done.stdout.strip()}"


def resolve_config(config: str, base_dir: Path, label: str) -> str:
    """A config file path (relative to the toml) or a ``package::path`` config shipped in mmdet/mmpose."""
    if "::" in config:
        return config
    path = (base_dir / config).resolve()
    if not path.is_file():
        raise GrewkitError(f"[{label}] config file not found", path=path)
    return str(path)


def resolve_checkpoint(checkpoint: str | None, base_dir: Path, label: str) -> str | None:
    if not checkpoint:
        return None
    path = (base_dir / checkpoint).resolve()
    if not path.is_file():
        raise GrewkitError(f"[{label}] checkpoint file not found", path=path)
    return str(path)
