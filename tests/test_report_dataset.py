"""`grewkit report`: GREW Table 1/4 numbers that match the manifests, figures as real PNGs, Markdown and HTML."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from helpers import grewkit
from split_world import small_world

from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.report.writer import write_report

ATTRS = {"gender": ["male", "female"], "age_group": ["child", "adult", "elderly"], "carrying": ["bag", "none"]}


def _attributes(identities):
    rng = np.random.default_rng(0)
    rows = []
    for i in identities:
        for attr, values in ATTRS.items():
            rows.append(
                {
                    "level": "identity",
                    "subject_id": i,
                    "attribute": attr,
                    "value": values[rng.integers(len(values))],
                    "votes": 3,
                    "total": 3,
                    "source": "ground_truth",
                }
            )
    return pa.Table.from_pylist(rows)


def test_report_numbers_match_the_manifests_and_figures_are_pngs(tmp_path):
    project = Project.init(tmp_path / "p")
    splits = small_world(project)
    identities = sorted({i for i in project.read("sequences").column("identity_id").to_pylist() if i})
    project.write("attributes", _attributes(identities))
    out = grewkit("report", "--project", project.root)
    assert out.returncode == 0, out.stderr
    md = (project.root / "reports/report.md").read_text()
    page = (project.root / "reports/report.html").read_text()
    rows = splits.to_pylist()
    seqs = project.read("sequences").to_pylist()
    frames = {r["sequence_id"]: r["frames"] for r in seqs}
    for name in ("train", "test", "distractor"):
        part = [r for r in rows if r["split"] == name]
        ids = len({r["identity_id"] for r in part if r["identity_id"]})
        cams = len({r["camera_id"] for r in part})
        line = f"| {name} | {ids:,} | {len(part):,} | {sum(frames[r['sequence_id']] for r in part):,} | {cams:,} |"
        assert line in md, (line, md)
        assert f"<td>{name}</td><td>{ids:,}</td>" in page
    n_probe = sum(r["role"] == "probe" for r in rows if r["split"] == "test")
    assert f"{n_probe} / {n_probe} |" in md
    assert "## Attribute: gender" in md and "| value | identities | share |" in md and f"| {len(identities)} |" in md
    figures = sorted(p.name for p in (project.root / "reports/figures").glob("*.png"))
    assert figures == ["attributes.png", "identities.png", "sequence_length.png", "views.png"]
    for f in figures:
        data = (project.root / "reports/figures" / f).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"figures/{f}" in md and f"figures/{f}" in page


def test_report_on_an_empty_project_says_what_is_missing(tmp_path):
    project = Project.init(tmp_path / "p")
    with pytest.raises(GrewkitError, match="no sequences manifest"):
        write_report(project)
