"""The evaluation commands on what `grewkit split` really writes: embed (GEI) -> evaluate -> submission -> score."""

import json

from click.testing import CliRunner
from split_world import write_world

from grewkit.cli.main import cli


def test_split_embed_evaluate_submit_score(project, tmp_path):
    write_world(project)
    runner = CliRunner()
    root = str(project.root)
    r = runner.invoke(cli, ["split", "--project", root])
    assert r.exit_code == 0, r.output
    splits = project.read("splits").to_pylist()
    probes = [s for s in splits if s["split"] == "test" and s["role"] == "probe"]
    distractors = [s for s in splits if s["split"] == "distractor"]
    assert probes and distractors
    feats = tmp_path / "gei"
    r = runner.invoke(cli, ["embed", "--project", root, "--model", "gei", "--out", str(feats), "--quiet"])
    assert r.exit_code == 0, r.output
    index = json.loads((feats / "index.json").read_text())
    assert len(index["sequence_ids"]) == sum(1 for s in splits if s["split"] in ("test", "distractor"))
    for protocol in ("grew", "grew-distractors", "identities", "gait3d"):
        out = tmp_path / f"{protocol}.json"
        r = runner.invoke(
            cli,
            [
                "evaluate",
                "--project",
                root,
                "--features",
                str(feats),
                "--protocol",
                protocol,
                "--exclude",
                "same-camera",
                "--out",
                str(out),
            ],
        )
        assert r.exit_code == 0, (protocol, r.output)
        res = json.loads(out.read_text())
        assert res["metrics"]["probes"] <= len(probes)
        if protocol == "grew":
            assert res["metrics"]["probes"] == len(probes)
        if protocol == "grew-distractors":
            assert res["curve"][-1]["distractors"] == len(distractors)
    sub, key = tmp_path / "sub.csv", tmp_path / "key.csv"
    r = runner.invoke(
        cli, ["submission", "--project", root, "--features", str(feats), "--out", str(sub), "--answer-key", str(key)]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["score", str(sub), "--answer-key", str(key), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["probes_scored"] == len(probes)
    # Features of another project's sequences: a clear error naming what is missing.
    r = runner.invoke(
        cli,
        ["embed", "--project", root, "--model", "gei", "--split", "train", "--out", str(tmp_path / "tr"), "--quiet"],
    )
    assert r.exit_code == 0
    r = runner.invoke(cli, ["evaluate", "--project", root, "--features", str(tmp_path / "tr")])
    assert r.exit_code != 0 and "have no features" in r.output
