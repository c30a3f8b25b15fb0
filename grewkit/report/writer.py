"""``grewkit report``: statistics and figures into PROJECT/reports/ as Markdown and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from grewkit.core.atomic import write_text
from grewkit.core.project import Project
from grewkit.report.figures import draw_all
from grewkit.report.stats import DatasetStats, collect


@dataclass(frozen=True)
class Report:
    markdown: Path
    html: Path
    figures: list[Path]
    stats: DatasetStats


def _tables(stats: DatasetStats) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by the Markdown and the HTML."""
    n = lambda v: f"{v:,}"  # noqa: E731
    overview = [
        ["identities", n(stats.identities)],
        ["sequences", n(stats.sequences)],
        ["frames", n(stats.frames)],
        ["cameras", n(stats.cameras)],
    ]
    overview += [[f"files of {m}", n(c)] for m, c in stats.modalities.items()]
    splits = [
        [
            r.split,
            n(r.identities),
            n(r.sequences),
            n(r.frames),
            n(r.cameras),
            f"{n(r.probes)} / {n(r.gallery)}" if r.probes or r.gallery else "-",
        ]
        for r in stats.splits
    ]
    tables = [
        ("Overview", ["", "count"], overview),
        (
            "Splits (GREW Table 1/4 style)",
            ["split", "identities", "sequences", "frames", "cameras", "probe / gallery"],
            splits,
        ),
    ]
    for name, counts in sorted(stats.attributes.items()):
        total = sum(counts.values())
        tables.append(
            (
                f"Attribute: {name}",
                ["value", "identities" if stats.attribute_level == "identity" else "tracklets", "share"],
                [[str(k), n(v), f"{100 * v / total:.1f} %"] for k, v in counts.most_common()],
            )
        )
    return tables


def _markdown(stats: DatasetStats, figures: dict[str, str]) -> str:
    lines = [f"# {stats.name}: dataset report", "", "Written by `grewkit report`.", ""]
    for title, header, rows in _tables(stats):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    distractors = next((r for r in stats.splits if r.split == "distractor"), None)
    if distractors:
        lines += [
            f"Distractors: {distractors.sequences:,} sequences "
            f"({distractors.identities:,} single-camera identities plus unlabelled sequences).",
            "",
        ]
    lines += ["## Figures", ""]
    for name, caption in figures.items():
        lines += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def _html(stats: DatasetStats, figures: dict[str, str]) -> str:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(stats.name)}: dataset report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#eee}"
        "td:first-child{text-align:left}img{max-width:100%}</style></head><body>",
        f"<h1>{e(stats.name)}: dataset report</h1><p>Written by <code>grewkit report</code>.</p>",
    ]
    for title, header, rows in _tables(stats):
        parts.append(f"<h2>{e(title)}</h2><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
        parts.append("</table>")
    parts.append("<h2>Figures</h2>")
    for name, caption in figures.items():
        parts.append(
            f"<figure><img src='figures/{e(name)}' alt='{e(caption)}'><figcaption>{e(caption)}</figcaption></figure>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(project: Project) -> Report:
    stats = collect(project)
    folder = project.folder("reports")
    figures = draw_all(stats, folder / "figures")
    md, page = folder / "report.md", folder / "report.html"
    write_text(md, _markdown(stats, figures))
    write_text(page, _html(stats, figures))
    return Report(md, page, [folder / "figures" / f for f in figures], stats)
