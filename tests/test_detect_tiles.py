"""Tiled detection (grewkit.detect.tiles) on TUD-Campus's real frames, and its layout checks."""

from __future__ import annotations

import numpy as np
import pytest

from grewkit.core.boxes import iou_matrix
from grewkit.core.errors import GrewkitError
from grewkit.core.settings import Settings
from grewkit.detect.tiles import TiledDetector, check_layout, grid_from_text, grid_layout


def test_tiles_find_more_small_people_and_merge_across_seams(shared_data):
    from grewkit.bench.detect import by_height
    from grewkit.bench.mot_sequence import TUD_CAMPUS_FPS, MotSequence, detect_sequence
    from grewkit.detect.registry import make_detector

    seq = MotSequence.open(shared_data / "tud_campus", fps=TUD_CAMPUS_FPS)
    whole = detect_sequence(seq, make_detector("ssdlite"), min_score=0.1, stride=2)
    tiled_detector = TiledDetector(make_detector("ssdlite"), grid_layout(2, 2, 0.2), merge_iou=0.5)
    tiled = detect_sequence(seq, tiled_detector, min_score=0.1, stride=2)
    small_whole = by_height(seq, whole[whole.frame % 2 == 0], threshold=0.3)["recall_by_height"][0]
    small_tiled = by_height(seq, tiled, threshold=0.3)["recall_by_height"][0]
    # Measured on all 71 frames: people under 150 px, recall 0.549 -> 0.634.
    assert small_tiled >= small_whole + 0.04, (small_whole, small_tiled)
    assert tiled_detector.name.endswith("+tiles4")
    for f in np.unique(tiled.frame):
        b = tiled.xyxy[tiled.frame == f]
        m = iou_matrix(b, b)
        np.fill_diagonal(m, 0)
        assert m.max(initial=0) < 0.5  # one box per person where the frame and the tiles overlap
        assert b[:, 0].min() >= -1 and b[:, 2].max() <= 641 and b[:, 3].max() <= 481


def test_grid_layouts_cover_the_frame():
    for cols, rows in [(1, 1), (2, 2), (3, 2), (4, 3)]:
        check_layout(grid_layout(cols, rows, 0.2))
        check_layout(grid_layout(cols, rows, 0.0))


@pytest.mark.parametrize(
    "tiles, why",
    [
        ("[[0, 0, 0.5, 1]]", "do not cover the frame: 50% of it"),
        ("[[0, 0, 0.6, 0.6], [0.4, 0, 1, 0.6], [0, 0.4, 0.6, 1]]", "do not cover the frame"),
        ("[[0, 0, 1.5, 1]]", "0 <= x0 < x1 <= 1"),
        ("[[0, 0, 1]]", "each tile is [x0, y0, x1, y1]"),
    ],
)
def test_a_layout_that_does_not_cover_the_frame_is_refused_naming_the_file(tmp_path, tiles, why):
    path = tmp_path / "grewkit.toml"
    path.write_text(f"[detect]\ntiles = {tiles}\n")
    with pytest.raises(GrewkitError) as err:
        Settings.load(path).section("detect")
    message = str(err.value)
    assert why in message and str(path) in message and "\n" not in message


def test_grid_from_text_reads_cols_x_rows():
    assert grid_from_text("2x2") == grid_layout(2, 2, 0.2)
    for bad in ("3", "2x", "0x2", "axb"):
        with pytest.raises(ValueError, match="COLS"):
            grid_from_text(bad)
