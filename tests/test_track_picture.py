import cv2
import pytest
from annotate_world import build_tud_world

from grewkit.core.errors import GrewkitError
from grewkit.track.picture import draw_tracks


def test_picture_shows_every_kept_tracklet_in_colour(project, shared_data, tmp_path):
    build_tud_world(project, shared_data)
    videos = project.read("videos")["video_id"].to_pylist()
    tracklets = project.read("tracklets")
    for video_id in videos:
        out = tmp_path / f"{video_id}.png"
        counts = draw_tracks(project, video_id, out)
        of_video = [
            k for v, k in zip(tracklets["video_id"].to_pylist(), tracklets["kept"].to_pylist()) if v == video_id
        ]
        assert counts["kept"] + counts["dropped"] <= len(of_video) and counts["kept"] > 0
        image = cv2.imread(str(out))
        assert image is not None and image.shape[2] == 3
        saturation = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1]
        assert (saturation > 200).sum() > 500, "coloured paths are drawn"


def test_unknown_video_and_wrong_suffix_are_clear_errors(project, shared_data, tmp_path):
    build_tud_world(project, shared_data)
    with pytest.raises(GrewkitError, match="no video 'nope'"):
        draw_tracks(project, "nope", tmp_path / "x.png")
    video_id = project.read("videos")["video_id"][0].as_py()
    with pytest.raises(GrewkitError, match="as PNG"):
        draw_tracks(project, video_id, tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists()
