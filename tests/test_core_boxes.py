"""The one box container (grewkit.core.boxes): validation, selection, Arrow round trips, NMS."""

from __future__ import annotations

import cv2
import numpy as np
import pyarrow as pa
import pytest

from grewkit.core.boxes import Boxes, iou_matrix, nms, xywh_to_xyxy
from grewkit.core.schemas import conform, get_schema


def _boxes(n=4, ids=True) -> Boxes:
    frame = np.array([3, 1, 3, 2][:n])
    xyxy = np.array([[0, 0, 10, 20], [5, 5, 15, 30], [20, 0, 30, 25], [1, 2, 3, 4]][:n], np.float64)
    return Boxes(frame, xyxy, np.array([0.9, 0.5, np.nan, 0.7][:n]), np.array([7, 3, 8, 7][:n]) if ids else None)


def test_columns_get_the_manifest_dtypes():
    b = _boxes()
    assert (b.frame.dtype, b.xyxy.dtype, b.score.dtype, b.track_id.dtype) == (
        np.int64,
        np.float32,
        np.float32,
        np.int64,
    )
    assert len(b) == 4 and b.xyxy.shape == (4, 4)
    empty = Boxes([], [], [])
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4) and empty.track_id is None
    assert len(Boxes.empty(with_track_id=True).track_id) == 0


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(frame=[0, 1], xyxy=[[0, 0, 1, 1]], score=[0.5]), ValueError),  # one box, two frames
        (dict(frame=[0], xyxy=[[0, 0, 1, 1]], score=[0.5, 0.6]), ValueError),  # two scores
        (dict(frame=[0], xyxy=[[0, 0, 1]], score=[0.5]), ValueError),  # not (N, 4)
        (dict(frame=[0.5], xyxy=[[0, 0, 1, 1]], score=[0.5]), TypeError),  # fractional frame
        (dict(frame=[0], xyxy=[[0, 0, 1, 1]], score=[0.5], track_id=[1, 2]), ValueError),
        (dict(frame=[0], xyxy=[[0, 0, 1, 1]], score=[0.5], track_id=[1.5]), TypeError),
    ],
)
def test_inconsistent_columns_are_refused(kwargs, error):
    with pytest.raises(error):
        Boxes(**kwargs)


def test_selection_keeps_every_column_together():
    b = _boxes()
    by_mask = b[b.frame == 3]
    assert by_mask.frame.tolist() == [3, 3] and by_mask.track_id.tolist() == [7, 8]
    np.testing.assert_array_equal(by_mask.xyxy, b.xyxy[[0, 2]])
    assert b[np.array([3, 1])].track_id.tolist() == [7, 3]
    assert len(b[1]) == 1 and b[1].frame.tolist() == [1]
    assert b[1:3].frame.tolist() == [1, 3]
    assert b.at(3).track_id.tolist() == [7, 8] and len(b.at(99)) == 0
    assert b.in_frame(5).frame.tolist() == [5] * 4
    np.testing.assert_allclose(b.heights, [20, 25, 25, 2])


def test_filter_clip_concat_and_best_first():
    b = _boxes(ids=False)
    assert b.filter(min_score=0.6).score.tolist() == pytest.approx([0.9, 0.7])  # NaN never passes a threshold
    assert b.filter(min_height=21).frame.tolist() == [1]  # the other tall box has no score
    clipped = b.clip(12, 22)
    assert clipped.xyxy[:, [0, 2]].max() <= 12 and clipped.xyxy[:, [1, 3]].max() <= 22
    both = Boxes.concat([b, b.in_frame(9)])
    assert len(both) == 8 and both.frame.tolist()[4:] == [9] * 4 and both.track_id is None
    ranked = Boxes.best_first([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]], [0.2, 0.8, 0.2])
    assert ranked.score.tolist() == pytest.approx([0.8, 0.2, 0.2]) and ranked.xyxy[1, 0] == 0  # ties keep their order
    assert ranked.frame.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(xywh_to_xyxy([[1, 2, 3, 4]]), [[1, 2, 4, 6]])


def test_arrow_round_trip_with_the_manifest_columns():
    b = _boxes()
    table = b.to_arrow()
    assert table.column_names == ["frame", "x1", "y1", "x2", "y2", "score", "track_id"]
    assert table.column("score").null_count == 1  # NaN (interpolated) is written as null
    back = Boxes.from_arrow(table, track_column="track_id")
    np.testing.assert_array_equal(back.frame, b.frame)
    np.testing.assert_array_equal(back.xyxy, b.xyxy)
    np.testing.assert_array_equal(back.score, b.score)  # NaN in the same place
    np.testing.assert_array_equal(back.track_id, b.track_id)
    assert Boxes.from_arrow(table).track_id is None


def test_a_boxes_manifest_partition_reads_with_its_string_tracklet_ids():
    b = Boxes([0, 1], [[0, 0, 10, 20], [1, 1, 11, 21]], [0.8, np.nan], ["v-t00001", "v-t00002"])
    table = b.to_arrow(track_column="tracklet_id")
    n = len(b)
    for name in ("video_id", "camera_id"):
        table = table.append_column(name, pa.array(["x"] * n))
    table = conform(table.append_column("visibility", pa.array([1.0, 0.5], pa.float32())), get_schema("boxes"))
    back = Boxes.from_arrow(table, track_column="tracklet_id")
    assert back.track_id.tolist() == ["v-t00001", "v-t00002"] and np.isnan(back.score[1])
    assert back.at(1).track_id.tolist() == ["v-t00002"]


def test_from_arrow_of_an_empty_table():
    b = Boxes.from_arrow(get_schema("detections").empty_table())
    assert len(b) == 0 and b.xyxy.shape == (0, 4)


def test_nms_is_opencvs_with_the_survivors_best_first():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, (60, 2)).astype(np.float32)
    wh = rng.uniform(20, 60, (60, 2)).astype(np.float32)
    score = rng.uniform(0, 1, 60).astype(np.float32)
    boxes = Boxes.best_first(np.concatenate([xy, xy + wh], axis=1), score)
    kept = nms(boxes, 0.45)
    keep = np.asarray(
        cv2.dnn.NMSBoxes(
            np.concatenate([xy, wh], axis=1)[np.argsort(-score, kind="stable")].tolist(),
            boxes.score.tolist(),
            0.0,
            0.45,
        )
    ).reshape(-1)
    expected = boxes[keep][np.argsort(-boxes.score[keep], kind="stable")]
    np.testing.assert_array_equal(kept.xyxy, expected.xyxy)
    np.testing.assert_array_equal(kept.score, expected.score)
    assert 0 < len(kept) < len(boxes) and np.all(np.diff(kept.score) <= 0)
    iou = iou_matrix(kept.xyxy, kept.xyxy)
    assert (iou[~np.eye(len(kept), dtype=bool)] <= 0.45 + 1e-6).all()  # no two survivors overlap past the threshold
    assert len(nms(Boxes.empty(), 0.5)) == 0


def test_iou_matrix():
    iou = iou_matrix([[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(iou, [[1.0, 1 / 3, 0.0, 0.0]])
