"""`grewkit status` shows the dataset so far: tracklets per drop reason, annotation progress, splits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner
from helpers import schema_table

from grewkit.cli.main import cli


def _tracklet(i, reason=None):
    return {
        "tracklet_id": f"v-t{i:05d}",
        "video_id": "v",
        "camera_id": "c1",
        "track_id": i,
        "start_frame": 0,
        "end_frame": 50,
        "n_frames": 51,
        "mean_box_height": 90.0,
        "mean_score": 0.8,
        "kept": reason is None,
        "filter_reason": reason,
    }


def _dataset(project):
    tracklets = [_tracklet(i) for i in range(5)]
    tracklets += [
        _tracklet(5, "too short: 12 frames (< 30 = 1 s)"),
        _tracklet(6, "too short: 3 frames (< 30 = 1 s)"),
        _tracklet(7, "too short: 8 frames (< 30 = 1 s); boxes too small: median height 20 px (< 40)"),
        _tracklet(8, "truncated at the frame border: in 80% of frames (> 50%)"),
    ]
    project.write("tracklets", schema_table("tracklets", tracklets))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    annotations = [
        {
            "annotation_id": f"ls:{i}",
            "task_key": f"task{i % 3}",
            "task_id": i % 3,
            "query_tracklet_id": "v-t00000",
            "annotator": f"a{i % 2}@x",
            "created_at": now,
            "updated_at": now,
            "was_cancelled": i == 3,
            "result_json": "[]",
            "task_data_json": "{}",
        }
        for i in range(4)
    ]
    project.write("annotations", schema_table("annotations", annotations))
    identities = [
        {
            "tracklet_id": f"v-t{i:05d}",
            "identity_id": f"id{i // 2}",
            "source": "annotation",
            "status": "resolved" if i < 4 else "held_out",
            "reason": None if i < 4 else "contradiction",
        }
        for i in range(5)
    ]
    project.write("identities", schema_table("identities", identities))
    splits = (
        [
            {"sequence_id": f"s{i}", "identity_id": f"id{i // 2}", "camera_id": "c1", "split": "train", "role": None}
            for i in range(6)
        ]
        + [
            {"sequence_id": f"p{i}", "identity_id": f"q{i}", "camera_id": "c1", "split": "test", "role": "probe"}
            for i in range(2)
        ]
        + [{"sequence_id": "d0", "identity_id": None, "camera_id": "c1", "split": "distractor", "role": None}]
    )
    project.write("splits", schema_table("splits", splits))
    runs = project.root / "annotation" / "runs"
    runs.mkdir(parents=True)
    (runs / "links.json").write_text(json.dumps({"key": "links", "backend": "label-studio", "url": "u", "pushed": 3}))
    reports = project.root / "annotation" / "reports"
    reports.mkdir(parents=True)
    (reports / "links.json").write_text(
        json.dumps(
            {
                "conflicts": [{"kind": "cycle"}, {"kind": "same-frame"}, {"kind": "cycle"}],
                "conflict_counts": {"cycle": 2, "same-frame": 1},
            }
        )
    )


def test_status_json_counts_what_the_manifests_hold(project):
    _dataset(project)
    result = CliRunner().invoke(cli, ["status", "-p", str(project.root), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert [s["stage"] for s in info["stages"]][:3] == ["ingest", "detect", "track"]
    assert info["tracklets"] == {
        "total": 9,
        "kept": 5,
        "dropped": 4,
        "dropped_by_reason": {"too short": 3, "boxes too small": 1, "truncated at the frame border": 1},
    }
    a = info["annotation"]
    assert a["campaigns"] == {
        "links": {"tasks_pushed": 3, "conflicts": 3, "conflict_counts": {"cycle": 2, "same-frame": 1}}
    }
    assert (a["annotations"], a["tasks_answered"], a["skipped"], a["annotators"]) == (4, 3, 1, 2)
    assert (a["identities"], a["tracklets_resolved"], a["tracklets_held_out"]) == (2, 4, 1)
    assert info["splits"] == {
        "distractor": {"sequences": 1, "identities": 0},
        "test probe": {"sequences": 2, "identities": 2},
        "train": {"sequences": 6, "identities": 3},
    }


def test_status_prints_the_overview_lines(project):
    _dataset(project)
    result = CliRunner().invoke(cli, ["status", "-p", str(project.root)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert (
        "tracklets: 5 kept, 4 dropped of 9 (too short: 3, boxes too small: 1, truncated at the frame border: 1)" in text
    )
    assert "annotation [links]: 3 tasks pushed, 3 conflicts at the last pull (cycle: 2, same-frame: 1)" in text
    assert "annotations: 3 tasks answered, 1 skipped, 4 in all by 2 annotators" in text
    assert "identities: 2 resolved from 4 tracklets, 1 tracklet held out" in text
    assert "splits: distractor 1 sequence / 0 identities; test probe 2 sequences / 2 identities; train 6" in text


def test_status_of_a_new_project_has_no_dataset_parts(project):
    result = CliRunner().invoke(cli, ["status", "-p", str(project.root), "--json"])
    info = json.loads(result.output)
    assert info["tracklets"] is None and info["annotation"] is None and info["splits"] is None
    assert "tracklets:" not in CliRunner().invoke(cli, ["status", "-p", str(project.root)]).output
