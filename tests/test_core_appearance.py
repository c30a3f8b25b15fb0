"""The colour-histogram appearance: a frame's boxes described together give each box's own descriptor."""

from __future__ import annotations

import numpy as np

from grewkit.core.appearance import REGIONS, HsvHistogram
from grewkit.core.frames import read_frame


def test_boxes_described_together_are_described_alone(shared_data):
    image = read_frame(shared_data / "vtest.avi", 50)
    height, width = image.shape[:2]
    rng = np.random.default_rng(1)
    x1, y1 = rng.uniform(-40, width, 30), rng.uniform(-40, height, 30)
    boxes = np.stack([x1, y1, x1 + rng.uniform(1, 160, 30), y1 + rng.uniform(1, 300, 30)], axis=1).astype(np.float32)
    boxes[0] = [5, 5, 7, 300]  # too narrow for any region: an all-zero row
    app = HsvHistogram()
    together = app.describe(image, boxes)
    alone = np.concatenate([app.describe(image, boxes[i : i + 1]) for i in range(len(boxes))])
    np.testing.assert_array_equal(together, alone)
    sums = together.reshape(len(boxes), len(REGIONS), -1).sum(axis=2)
    assert not sums[0].any()
    np.testing.assert_allclose(sums[sums > 0], 1.0, atol=1e-5)
    assert (sums > 0).mean() > 0.5  # most boxes are in the frame: the test looks at real histograms
    # Different boxes, different people and background: the descriptors must differ too.
    assert len({row.tobytes() for row in together[sums.all(axis=1)]}) == int(sums.all(axis=1).sum())
    assert app.describe(image, np.zeros((0, 4), np.float32)).shape == (0, app.dim)
