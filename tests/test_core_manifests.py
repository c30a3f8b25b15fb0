import json
import subprocess
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grewkit.core.atomic import atomic_path, write_text
from grewkit.core.errors import GrewkitError, SchemaError
from grewkit.core.schemas import all_schemas, get_schema, parse_type

EXPECTED = {
    "cameras",
    "videos",
    "detections",
    "tracklets",
    "boxes",
    "candidates",
    "annotations",
    "identities",
    "attributes",
    "sequences",
    "splits",
}


def _boxes(n=4, camera="camA"):
    return pa.table(
        {
            "tracklet_id": [f"{camera}-t{i % 2}" for i in range(n)],
            "video_id": ["v1"] * n,
            "camera_id": [camera] * n,
            "frame": list(range(n)),
            "x1": [1.0] * n,
            "y1": [2.0] * n,
            "x2": [3.0] * n,
            "y2": [4.0] * n,
            "score": [0.5] * (n - 1) + [None],
            "visibility": [None] * n,
        }
    )


def _cameras():
    schema = get_schema("cameras")
    row = {c.name: None for c in schema.columns}
    row.update(camera_id="camA", site="s", width=640, height=480)
    return pa.Table.from_pylist([row, {**row, "camera_id": "camB"}], schema=schema.arrow)


def test_every_manifest_has_a_schema_with_described_columns():
    schemas = all_schemas()
    assert EXPECTED <= set(schemas)
    for schema in schemas.values():
        assert schema.version >= 1 and schema.description
        assert all(c.description for c in schema.columns), schema.name
        # the file itself is plain JSON that other languages can read
        assert json.loads(schema.source.read_text())["name"] == schema.name


def test_type_names_parse():
    assert parse_type("list<float32>") == pa.list_(pa.float32())
    assert parse_type("timestamp[us,UTC]") == pa.timestamp("us", tz="UTC")
    with pytest.raises(ValueError, match="unknown column type"):
        parse_type("decimal")


def test_round_trip_is_exact_and_sorted(project):
    table = _cameras().take([1, 0])
    project.write("cameras", table)
    back = project.read("cameras")
    assert back.column("camera_id").to_pylist() == ["camA", "camB"]
    assert back.schema.equals(get_schema("cameras").arrow, check_metadata=False)
    meta = pq.read_schema(project.root / "manifests/cameras.parquet").metadata
    assert meta[b"grewkit.schema"] == b"cameras" and meta[b"grewkit.schema_version"] == b"1"


def test_partitioned_manifest_one_file_per_camera_and_readable_without_grewkit(project):
    table = pa.concat_tables([_boxes(camera="camA"), _boxes(camera="camB")])
    project.write("boxes", table)
    folder = project.root / "manifests/boxes"
    assert sorted(p.name for p in folder.iterdir()) == ["camA.parquet", "camB.parquet"]
    assert project.read("boxes").num_rows == 8
    glob = str(folder / "*.parquet")
    assert len(pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))])) == 8
    assert duckdb.sql(f"select count(*) from '{glob}'").fetchall() == [(8,)]
    assert pl.read_parquet(glob)["camera_id"].n_unique() == 2
    # rewriting without camB removes its stale partition
    project.write("boxes", _boxes(camera="camA"))
    assert sorted(p.name for p in folder.iterdir()) == ["camA.parquet"]


def test_identical_rows_give_identical_bytes(project, tmp_path):
    project.write("boxes", _boxes())
    first = (project.root / "manifests/boxes/camA.parquet").read_bytes()
    project.write("boxes", _boxes().take([3, 1, 2, 0]))
    assert (project.root / "manifests/boxes/camA.parquet").read_bytes() == first


def test_wrong_column_type_is_refused_naming_the_column(project):
    bad = _cameras().set_column(4, "width", pa.array(["wide", "wider"]))
    with pytest.raises(SchemaError, match="column 'width' has type string"):
        project.write("cameras", bad)
    assert not (project.root / "manifests/cameras.parquet").exists()


def test_missing_and_extra_columns_and_nulls_are_refused(project):
    with pytest.raises(SchemaError, match=r"missing columns \['site'"):
        project.write("cameras", _cameras().drop_columns(["site"]))
    with pytest.raises(SchemaError, match=r"unexpected columns \['colour'\]"):
        project.write("cameras", _cameras().append_column("colour", pa.array(["r", "g"])))
    with pytest.raises(SchemaError, match="'camera_id' has 1 nulls"):
        project.write("cameras", _cameras().set_column(0, "camera_id", pa.array(["a", None])))


def test_duplicate_primary_key_is_refused(project):
    with pytest.raises(SchemaError, match="repeat the primary key"):
        project.write("cameras", pa.concat_tables([_cameras(), _cameras()]))


def test_file_of_another_schema_version_is_refused(project):
    project.write("cameras", _cameras())
    path = project.root / "manifests/cameras.parquet"
    table = pq.read_table(path)
    newer = table.replace_schema_metadata({b"grewkit.schema": b"cameras", b"grewkit.schema_version": b"7"})
    pq.write_table(newer, path)
    with pytest.raises(SchemaError, match="schema v7, newer than this grewkit's v1"):
        project.read("cameras")
    pq.write_table(table.replace_schema_metadata({}), path)
    with pytest.raises(SchemaError, match="no grewkit schema version"):
        project.read("cameras")


def test_partition_values_must_be_file_name_safe(project):
    with pytest.raises(GrewkitError, match="cannot name a file"):
        project.write("boxes", _boxes(camera="../evil"))


def test_atomic_write_leaves_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "a.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_kill_9_during_a_write_never_leaves_a_torn_file(tmp_path):
    target = tmp_path / "big.parquet"
    script = (
        "import pyarrow as pa, sys\n"
        "from grewkit.core.manifests import write_table\n"
        "t = pa.table({'x': list(range(2_000_000))})\n"
        "sys.stdout.write('go\\n'); sys.stdout.flush()\n"
        f"while True: write_table(__import__('pathlib').Path({str(target)!r}), t)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"go\n"
    import time

    deadline = time.time() + 30
    while not target.exists() and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    proc.kill()
    proc.wait()
    assert pq.read_table(target).num_rows == 2_000_000


def test_an_annotations_manifest_of_schema_v1_reads_with_unknown_lead_times(project):
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    row = {
        "annotation_id": "ls:1",
        "task_key": "k",
        "task_id": 1,
        "query_tracklet_id": "t",
        "annotator": "a@x",
        "created_at": now,
        "updated_at": now,
        "was_cancelled": False,
        "result_json": "[]",
        "task_data_json": "{}",
    }
    v2 = get_schema("annotations").arrow
    v1 = pa.schema(
        [f for f in v2 if f.name != "lead_time_s"],
        metadata={b"grewkit.schema": b"annotations", b"grewkit.schema_version": b"1"},
    )
    path = project.manifests_dir / "annotations.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([row], schema=v1), path)
    table = project.read("annotations")
    assert table.column_names[-1] == "lead_time_s" and table["lead_time_s"].to_pylist() == [None]
    assert table["annotation_id"].to_pylist() == ["ls:1"]


def test_detections_v1_read_with_no_descriptors(project):
    """Detections written before descriptors were stored read as boxes without them (track reads the frames)."""
    row = {
        "video_id": "v",
        "camera_id": "c",
        "frame": 3,
        "det_index": 0,
        "x1": 1.0,
        "y1": 2.0,
        "x2": 30.0,
        "y2": 90.0,
        "score": 0.8,
        "detector": "ssdlite",
    }
    v2 = get_schema("detections").arrow
    v1 = pa.schema(
        [f for f in v2 if not f.name.startswith("descriptor")],
        metadata={b"grewkit.schema": b"detections", b"grewkit.schema_version": b"1"},
    )
    path = project.manifests_dir / "detections" / "c.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([row], schema=v1), path)
    table = project.read("detections")
    assert table.column_names[-2:] == ["descriptor", "descriptor_kind"]
    assert table["descriptor"].to_pylist() == [None] and table["descriptor_kind"].to_pylist() == [None]
    assert table["x2"].to_pylist() == [30.0]
