"""The install rules that the measured package facts require (shared/notes/dependencies.md)."""

from importlib.metadata import distributions


def _installed():
    return {(d.metadata["Name"] or "").lower(): d.version for d in distributions()}


def test_exactly_one_cv2_distribution_headless_contrib_below_5():
    installed = _installed()
    cv2_dists = sorted(n for n in installed if n.startswith("opencv"))
    assert cv2_dists == ["opencv-contrib-python-headless"], cv2_dists
    assert int(installed["opencv-contrib-python-headless"].split(".")[0]) < 5
    import cv2

    assert hasattr(cv2, "HOGDescriptor") and hasattr(cv2, "DISOpticalFlow_create")


def test_cpu_torch_and_mediapipe_with_its_bundled_models_but_no_jax():
    installed = _installed()
    assert installed["torch"].startswith("2.13.0")
    assert installed["mediapipe"] == "0.10.14"
    assert "jax" not in installed and "jaxlib" not in installed
    import mediapipe as mp

    assert hasattr(mp, "solutions")
