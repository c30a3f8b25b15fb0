"""Protocols on a small synthetic test set: GREW, distractor and identity curves, attributes,
Gait3D conventions, and the submission -> score round trip through the CLI."""

import csv
import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from grewkit.cli.main import cli
from grewkit.core.errors import GrewkitError
from grewkit.evaluate.features import load_features, save_features
from grewkit.evaluate.metrics import Conventions, evaluate_retrieval
from grewkit.evaluate.protocols import Catalog, Options, run_protocol
from grewkit.evaluate.submission import score

N_IDS = 12


def _world(project, seed=0):
    """12 identities, 2 gallery + 2 probe sequences each (GREW's split), 40 distractors; features are
    identity centres plus noise (identity 11's probes are hard: pure noise)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(N_IDS, 16)) * 3
    seqs, splits, attrs, ids, feats = [], [], [], [], []
    for i in range(N_IDS):
        for j, role in enumerate(["gallery", "gallery", "probe", "probe"]):
            sid = f"id{i:02d}-{j}"
            noise = rng.normal(size=16) * (6.0 if (i == 11 and role == "probe") else 1.0)
            feats.append(centres[i] + noise)
            ids.append(sid)
            seqs.append(
                {
                    "sequence_id": sid,
                    "modality": "sil64",
                    "identity_id": f"p{i:02d}",
                    "camera_id": f"c{j % 2}",
                    "view": None,
                    "condition": None,
                    "tracklet_id": None,
                    "path": "x.npy",
                    "frames": 1,
                    "height": 64,
                    "width": 44,
                    "sha256": "0",
                }
            )
            splits.append(
                {
                    "sequence_id": sid,
                    "identity_id": f"p{i:02d}",
                    "camera_id": f"c{j % 2}",
                    "split": "test",
                    "role": role,
                }
            )
        attrs.append(
            {
                "level": "identity",
                "subject_id": f"p{i:02d}",
                "attribute": "gender",
                "value": "female" if i % 2 else "male",
                "votes": 3,
                "total": 3,
                "source": "ground_truth",
            }
        )
    for d in range(40):
        sid = f"dis{d:03d}"
        feats.append(rng.normal(size=16) * 3)
        ids.append(sid)
        seqs.append(
            {
                "sequence_id": sid,
                "modality": "sil64",
                "identity_id": None,
                "camera_id": "c9",
                "view": None,
                "condition": None,
                "tracklet_id": None,
                "path": "x.npy",
                "frames": 1,
                "height": 64,
                "width": 44,
                "sha256": "0",
            }
        )
        splits.append({"sequence_id": sid, "identity_id": None, "camera_id": "c9", "split": "distractor", "role": None})
    project.write("sequences", pa.Table.from_pylist(seqs))
    project.write("splits", pa.Table.from_pylist(splits))
    project.write("attributes", pa.Table.from_pylist(attrs))
    folder = project.root / "features" / "synthetic"
    save_features(folder, ids, np.asarray(feats, np.float32), {"model": "synthetic"})
    return folder


@pytest.fixture
def embedded_project(project):
    return project, _world(project)


def test_grew_protocol_and_gait3d(embedded_project):
    project, folder = embedded_project
    cat, feats = Catalog.from_project(project), load_features(folder)
    grew = run_protocol("grew", cat, feats)
    m = grew["metrics"]
    assert m["probes"] == 2 * N_IDS and grew["gallery"] == 2 * N_IDS
    assert 70.0 <= m["rank1"] < 100.0 and m["rank20"] == 100.0
    assert 0 < m["mINP"] <= 100 and 0 < m["mAP"] <= 100
    g3 = run_protocol("gait3d", cat, feats)
    assert set(g3["metrics"]) >= {"rank1", "rank5", "rank10", "mAP", "mINP"} and "rank20" not in g3["metrics"]
    assert g3["conventions"]["no_match"] == "skip"


def test_distractor_curve_is_one_pass_and_consistent(embedded_project):
    project, folder = embedded_project
    cat, feats = Catalog.from_project(project), load_features(folder)
    res = run_protocol("grew-distractors", cat, feats, Conventions(), Options(distractor_counts=(0, 10, 40)))
    curve = res["curve"]
    assert [c["distractors"] for c in curve] == [0, 10, 40]
    # With no distractors the curve starts at the plain GREW figure; more distractors never help.
    assert curve[0]["rank1"] == run_protocol("grew", cat, feats)["metrics"]["rank1"]
    assert curve[0]["mAP"] == pytest.approx(run_protocol("grew", cat, feats)["metrics"]["mAP"])
    assert curve[0]["rank1"] >= curve[1]["rank1"] >= curve[2]["rank1"]
    # The last point equals a direct evaluation against gallery + all 40 distractors.
    p_ids = cat.select(split="test", role="probe")
    g_ids = cat.select(split="test", role="gallery") + cat.select(split="distractor")
    probes = cat.feature_set(p_ids, feats)
    gallery = cat.feature_set(g_ids, feats)
    direct = evaluate_retrieval(probes, gallery)
    assert curve[2]["rank1"] == direct["rank1"] and curve[2]["mAP"] == pytest.approx(direct["mAP"])
    with pytest.raises(GrewkitError, match="only 40"):
        run_protocol("grew-distractors", cat, feats, Conventions(), Options(distractor_counts=(100,)))


def test_identity_curve_matches_subset_evaluations(embedded_project):
    project, folder = embedded_project
    cat, feats = Catalog.from_project(project), load_features(folder)
    res = run_protocol("identities", cat, feats, Conventions(), Options(identity_counts=(3, 6, 12), seed=4))
    assert [c["identities"] for c in res["curve"]] == [3, 6, 12]
    assert [c["probes"] for c in res["curve"]] == [6, 12, 24]
    assert res["curve"][-1]["rank1"] == run_protocol("grew", cat, feats)["metrics"]["rank1"]


def test_attribute_subsets(embedded_project):
    project, folder = embedded_project
    cat, feats = Catalog.from_project(project), load_features(folder)
    res = run_protocol("attributes", cat, feats)
    rows = {(r["attribute"], r["value"]): r for r in res["subsets"]}
    assert set(rows) == {("gender", "male"), ("gender", "female")}
    assert rows[("gender", "male")]["probes"] == 12 and rows[("gender", "female")]["probes"] == 12
    # identity 11 (female) has the noisy probes: the female subset cannot beat the male one.
    assert rows[("gender", "female")]["rank1"] <= rows[("gender", "male")]["rank1"]
    overall = res["metrics"]["rank1"]
    assert overall == pytest.approx((rows[("gender", "male")]["rank1"] + rows[("gender", "female")]["rank1"]) / 2)


def test_submission_and_score_round_trip(embedded_project, tmp_path):
    project, folder = embedded_project
    runner = CliRunner()
    sub, key = tmp_path / "sub.csv", tmp_path / "key.csv"
    r = runner.invoke(
        cli,
        [
            "submission",
            "--project",
            str(project.root),
            "--features",
            str(folder),
            "--out",
            str(sub),
            "--answer-key",
            str(key),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(sub.open()))
    assert rows[0][0] == "videoId" and rows[0][1] == "rank1" and rows[0][20] == "rank20" and rows[0][21] == "distractor"
    assert len(rows) == 1 + 2 * N_IDS
    scored = score(sub, key)
    cat, feats = Catalog.from_project(project), load_features(folder)
    # Scoring the file gives the evaluator's figures for the same gallery (with distractors).
    p_ids = cat.select(split="test", role="probe")
    g_ids = cat.select(split="test", role="gallery") + cat.select(split="distractor")
    gallery = cat.feature_set(g_ids, feats)
    gallery.labels = gallery.labels[: 2 * N_IDS] + [None] * 40
    direct = evaluate_retrieval(cat.feature_set(p_ids, feats), gallery)
    for k in (1, 5, 10, 20):
        assert scored[f"rank{k}"] == pytest.approx(direct[f"rank{k}"])
    r = runner.invoke(cli, ["score", str(sub), "--answer-key", str(key), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["rank1"] == pytest.approx(scored["rank1"])


def test_score_rejects_bad_files(embedded_project, tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("videoId,identity\na,p1\nb,p2\n")
    header = "videoId," + ",".join(f"rank{i}" for i in range(1, 21)) + ",distractor\n"
    sub = tmp_path / "sub.csv"
    sub.write_text(header + "a," + ",".join(["p1"] * 20) + ",0\n" + "zz," + ",".join(["p1"] * 20) + ",0\n")
    with pytest.raises(GrewkitError, match="line 3: probe 'zz' is not in the answer key"):
        score(sub, key)
    sub.write_text(header + "a," + ",".join(["p1"] * 20) + ",0\n")
    res = score(sub, key)
    assert res["rank1"] == 50.0 and res["probes_missing"] == 1  # a missing probe is a miss
    sub.write_text("id,r1\n")
    with pytest.raises(GrewkitError, match="rank columns"):
        score(sub, key)


def test_evaluate_cli_conventions_and_errors(embedded_project, tmp_path):
    project, folder = embedded_project
    runner = CliRunner()
    base = ["evaluate", "--project", str(project.root), "--features", str(folder)]
    r = runner.invoke(
        cli, base + ["--exclude", "same-camera", "--distance", "cosine", "--out", str(tmp_path / "r.json")]
    )
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["conventions"] == {
        "distance": "cosine",
        "no_match": "miss",
        "exclude": "same-camera",
        "ties": "pessimistic",
    }
    r = runner.invoke(cli, base + ["--exclude", "same-view"])
    assert r.exit_code != 0 and "view" in r.output
    r = runner.invoke(cli, ["evaluate", "--project", str(project.root), "--features", str(tmp_path)])
    assert r.exit_code != 0 and "index.json" in r.output


def test_project_settings_fix_the_conventions(embedded_project, tmp_path):
    project, folder = embedded_project
    text = project.settings_path.read_text()
    start = text.index("[evaluate]")
    section = (
        text[start:]
        .replace('no_match = "miss"', 'no_match = "skip"', 1)
        .replace('ties = "pessimistic"', 'ties = "optimistic"', 1)
    )
    project.settings_path.write_text(text[:start] + section)
    runner = CliRunner()
    out = tmp_path / "r.json"
    r = runner.invoke(cli, ["evaluate", "--project", str(project.root), "--features", str(folder), "--out", str(out)])
    assert r.exit_code == 0, r.output
    conv = json.loads(out.read_text())["conventions"]
    # distance "auto" (the default): OpenGait's part-mean Euclidean distance
    assert conv["no_match"] == "skip" and conv["ties"] == "optimistic" and conv["distance"] == "euclidean_parts"
    r = runner.invoke(
        cli,
        [
            "evaluate",
            "--project",
            str(project.root),
            "--features",
            str(folder),
            "--out",
            str(out),
            "--ties",
            "pessimistic",
        ],
    )
    assert json.loads(out.read_text())["conventions"]["ties"] == "pessimistic"  # the option wins over the file
    project.settings_path.write_text(text[:start] + section.replace('ties = "optimistic"', 'ties = "random"', 1))
    r = runner.invoke(cli, ["evaluate", "--project", str(project.root), "--features", str(folder)])
    assert r.exit_code != 0 and "grewkit.toml" in r.output and "ties" in r.output
