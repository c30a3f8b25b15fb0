"""Tiled detection: the whole frame plus overlapping tiles, each at the detector's own input size.

A detector with a fixed input (SSDLite: 300x300) shrinks a 576-line frame about 2x, so a 60 px
person is 30 px to it. Run on a tile, the same person is seen bigger. Boxes from each tile are
moved back to frame coordinates; a box that touches a tile's inner edge (a seam, not the frame's
edge) is cut by the tile and dropped, since the whole frame or the neighbouring tile sees that
person whole; then overlapping boxes from the frame and the tiles are merged by non-maximum
suppression (grewkit.core.boxes.nms).

The layout is ``[detect] tiles``: a list of ``[x0, y0, x1, y1]`` in fractions of the frame, which
together must cover it (checked on a 100 x 100 grid).
"""

from __future__ import annotations

import numpy as np

from grewkit.core.boxes import Boxes, nms

#: A box within this many pixels of a seam is taken for cut by it.
SEAM_PX = 2.0


def check_layout(tiles: list) -> None:
    """ValueError with the reason when ``tiles`` is not a list of [x0, y0, x1, y1] fractions covering the frame."""
    if not tiles:
        return
    grid = np.zeros((100, 100), bool)
    centres = (np.arange(100) + 0.5) / 100
    for t in tiles:
        if not (isinstance(t, list) and len(t) == 4 and all(isinstance(v, (int, float)) for v in t)):
            raise ValueError(f"tiles: each tile is [x0, y0, x1, y1] in fractions of the frame, got {t!r}")
        x0, y0, x1, y1 = (float(v) for v in t)
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(f"tiles: {t!r} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
        grid[np.ix_((centres >= y0) & (centres <= y1), (centres >= x0) & (centres <= x1))] = True
    if not grid.all():
        ys, xs = np.nonzero(~grid)
        raise ValueError(
            f"tiles do not cover the frame: {(~grid).mean():.0%} of it is in no tile "
            f"(e.g. around x = {xs[0] / 100:.2f}, y = {ys[0] / 100:.2f} of the frame)"
        )


def grid_layout(cols: int, rows: int, overlap: float) -> list[list[float]]:
    """``cols`` x ``rows`` tiles, each widened by ``overlap`` of its size into its neighbours."""
    out = []
    for r in range(rows):
        for c in range(cols):
            x0, x1 = c / cols - overlap / cols, (c + 1) / cols + overlap / cols
            y0, y1 = r / rows - overlap / rows, (r + 1) / rows + overlap / rows
            out.append([max(0.0, round(x0, 4)), max(0.0, round(y0, 4)), min(1.0, round(x1, 4)), min(1.0, round(y1, 4))])
    return out


def grid_from_text(text: str, overlap: float = 0.2) -> list[list[float]]:
    """The layout of ``"COLSxROWS"`` (e.g. ``"2x2"``) at ``overlap``; ValueError naming the text otherwise."""
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{text!r}: use COLSxROWS, e.g. 2x2") from None
    if cols < 1 or rows < 1:
        raise ValueError(f"{text!r}: COLS and ROWS must be at least 1")
    return grid_layout(cols, rows, overlap)


class TiledDetector:
    """Wraps any detector: the whole frame, then every tile, merged."""

    def __init__(self, inner, tiles: list, *, merge_iou: float):
        check_layout(tiles)
        self.inner, self.tiles, self.merge_iou = inner, tiles, merge_iou
        self.kind = inner.kind
        self.name = f"{inner.name}+tiles{len(tiles)}"

    def reset(self) -> None:
        self.inner.reset()

    def detect(self, frame: np.ndarray) -> Boxes:
        height, width = frame.shape[:2]
        corners = []
        for x0, y0, x1, y1 in self.tiles:
            a, b = int(round(x0 * width)), int(round(x1 * width))
            c, d = int(round(y0 * height)), int(round(y1 * height))
            corners.append((a, b, c, d))
        crops = [np.ascontiguousarray(frame[c:d, a:b]) for a, b, c, d in corners]
        # A detector that takes a batch (SSDLite) sees the frame and its tiles in one pass.
        if hasattr(self.inner, "detect_many"):
            results = self.inner.detect_many([frame, *crops])
        else:
            results = [self.inner.detect(image) for image in (frame, *crops)]
        parts = [results[0]]
        for (a, b, c, d), found in zip(corners, results[1:]):
            if not len(found):
                continue
            xyxy = found.xyxy + np.array([a, c, a, c], np.float32)
            # Seams: tile edges that are not frame edges.
            cut = np.zeros(len(found), bool)
            if a > 0:
                cut |= xyxy[:, 0] <= a + SEAM_PX
            if b < width:
                cut |= xyxy[:, 2] >= b - SEAM_PX
            if c > 0:
                cut |= xyxy[:, 1] <= c + SEAM_PX
            if d < height:
                cut |= xyxy[:, 3] >= d - SEAM_PX
            parts.append(Boxes(found.frame[~cut], xyxy[~cut], found.score[~cut]))
        return nms(Boxes.concat(parts), self.merge_iou)
