"""``grewkit detect``."""

from grewkit.cli.stage_command import stage_command

detect_command = stage_command(
    "detect",
    """Person boxes per frame of every registered video, into the detections manifest.

The backend is [detect] backend in grewkit.toml: a named table of preprocess/detectors.toml
(ssdlite: the embedded SSDLite pedestrian model on ONNX Runtime; hog; mog2) or of your own
backends file ([detect] backends_file) for your ONNX exports (YOLOX, RTMDet) or mmdet.
[detect] stride detects on every n-th frame.

\b
Examples:
  grewkit detect --project demo
  grewkit detect --workers 2 --strict
""",
)
