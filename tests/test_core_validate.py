import pyarrow as pa
import pyarrow.parquet as pq
from helpers import schema_table

from grewkit.core.validate import validate_project


def _video(video_id, camera_id, path):
    return dict(
        video_id=video_id,
        camera_id=camera_id,
        path=path,
        fps=25.0,
        frame_count=10,
        width=64,
        height=48,
        duration_s=0.4,
        size_bytes=3,
        sha256="0" * 64,
    )


def _tracklet(tracklet_id, video_id, camera_id):
    return dict(
        tracklet_id=tracklet_id,
        video_id=video_id,
        camera_id=camera_id,
        track_id=1,
        start_frame=0,
        end_frame=2,
        n_frames=3,
        mean_box_height=9.0,
        mean_score=0.9,
        kept=True,
    )


def _consistent(project):
    (project.root / "media/a.avi").write_bytes(b"abc")
    project.write("cameras", schema_table("cameras", [{"camera_id": "camA"}]))
    project.write("videos", schema_table("videos", [_video("v1", "camA", "media/a.avi")]))
    project.write("tracklets", schema_table("tracklets", [_tracklet("v1-1", "v1", "camA")]))
    project.write(
        "boxes",
        schema_table(
            "boxes",
            [
                dict(
                    tracklet_id="v1-1",
                    video_id="v1",
                    camera_id="camA",
                    frame=f,
                    x1=0.0,
                    y1=0.0,
                    x2=5.0,
                    y2=9.0,
                    score=0.9,
                )
                for f in range(3)
            ],
        ),
    )


def test_a_consistent_project_has_no_problems(project):
    _consistent(project)
    assert validate_project(project) == []


def test_dangling_references_are_reported_with_an_example(project):
    _consistent(project)
    project.write(
        "tracklets", schema_table("tracklets", [_tracklet("v1-1", "v1", "camA"), _tracklet("v9-1", "v9", "camA")])
    )
    project.write(
        "identities",
        schema_table(
            "identities", [dict(tracklet_id="ghost", identity_id="p1", source="annotation", status="resolved")]
        ),
    )
    messages = [str(p) for p in validate_project(project)]
    assert "manifests/tracklets.parquet: 1 values of video_id are not in videos.video_id, e.g. 'v9'" in messages
    assert any(
        m.startswith("manifests/identities.parquet: 1 values of tracklet_id") and "'ghost'" in m for m in messages
    )


def test_missing_media_files_and_wrong_partitions_are_reported(project):
    _consistent(project)
    (project.root / "media/a.avi").unlink()
    rows = project.read("boxes")
    pq.write_table(rows, project.root / "manifests/boxes/camB.parquet")  # rows of camA filed under camB
    messages = [str(p) for p in validate_project(project)]
    assert any("manifests/videos.parquet: 1 referenced files do not exist" in m for m in messages)
    assert "manifests/boxes/camB.parquet: 3 rows have a camera_id other than 'camB'" in messages


def test_a_manifest_with_a_wrong_column_type_is_reported_not_raised(project):
    _consistent(project)
    path = project.root / "manifests/videos.parquet"
    table = pq.read_table(path)
    broken = table.set_column(table.schema.get_field_index("fps"), "fps", pa.array(["fast"]))
    pq.write_table(broken.replace_schema_metadata(table.schema.metadata), path)
    messages = [str(p) for p in validate_project(project)]
    assert any(m.startswith("manifests/videos.parquet:") and "column 'fps' has type string" in m for m in messages)
