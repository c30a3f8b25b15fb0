"""``grewkit detect``."""

from grewkit.cli.stage_command import settings_option, stage_command


def known_backend(project, name: str) -> None:
    """``--backend`` must name a table of the project's backends file, or nothing is written."""
    from grewkit.core.errors import GrewkitError
    from grewkit.detect.registry import backends_path, load_backends

    path = backends_path(project.settings.section("detect").backends_file)
    backends = load_backends(path)
    if name not in backends:
        raise GrewkitError(f"--backend {name}: no such detector; defined: {', '.join(backends)}", path=path)


detect_command = stage_command(
    "detect",
    """Person boxes per frame of every registered video, into the detections manifest.

The backend is [detect] backend in grewkit.toml: a named table of preprocess/detectors.toml
(ssdlite: the embedded SSDLite pedestrian model on ONNX Runtime; hog; mog2) or of your own
backends file ([detect] backends_file) for your ONNX exports (YOLOX, RTMDet) or mmdet.
[detect] stride detects on every n-th frame. --backend and --stride are written into
grewkit.toml before the run, so a later `grewkit detect` (or `grewkit run`) repeats them.

\b
Examples:
  grewkit detect --project demo
  grewkit detect --workers 2 --strict
  grewkit detect --project demo --backend ssdlite-int8 --stride 2
""",
    settings_options=(
        settings_option("detect", "backend", "--backend", check=known_backend),
        settings_option("detect", "stride", "--stride", type=int),
    ),
)
