"""The report's PNG figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from grewkit.core.atomic import write_bytes
from grewkit.report.stats import DatasetStats


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    write_bytes(path, buffer.getvalue())


def _bars(ax, counts: Counter, title: str, xlabel: str, *, ylabel: str = "count", max_bars: int = 30) -> None:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:max_bars]
    if all(str(k).isdigit() for k, _ in items):  # view angles, camera numbers: keep their natural order
        items = sorted(items, key=lambda kv: int(kv[0]))
    labels = [str(k) for k, _ in items]
    values = [v for _, v in items]
    ax.bar(range(len(values)), values, color="#4C72B0")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(
        labels,
        rotation=45 if max(map(len, labels or [""])) > 4 or len(labels) > 12 else 0,
        ha="right" if len(labels) > 12 else "center",
    )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for i, v in enumerate(values):
        ax.annotate(str(v), (i, v), ha="center", va="bottom", fontsize=8)


def draw_all(stats: DatasetStats, folder: Path) -> dict[str, str]:
    """Write every figure into ``folder``; return {figure file name: caption}."""
    plt = _pyplot()
    out: dict[str, str] = {}

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.hist(stats.lengths, bins=min(40, max(5, len(set(stats.lengths)))), color="#4C72B0", edgecolor="white")
    ax.set_title("Sequence length")
    ax.set_xlabel("frames per sequence")
    ax.set_ylabel("sequences")
    _save(fig, folder / "sequence_length.png")
    plt.close(fig)
    out["sequence_length.png"] = "Frames per sequence (silhouette frames where a sequence has them)."

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    _bars(ax, stats.views, "View distribution", stats.view_source, ylabel="sequences")
    _save(fig, folder / "views.png")
    plt.close(fig)
    out["views.png"] = f"Sequences per view ({stats.view_source})."

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    _bars(axes[0], Counter(stats.sequences_per_identity), "Sequences per identity", "sequences", ylabel="identities")
    _bars(axes[1], Counter(stats.cameras_per_identity), "Cameras per identity", "cameras", ylabel="identities")
    fig.tight_layout()
    _save(fig, folder / "identities.png")
    plt.close(fig)
    out["identities.png"] = (
        "Identities by number of sequences and of cameras (>= 2 cameras: eligible for train/val/test)."
    )

    if stats.attributes:
        names = sorted(stats.attributes)
        cols = min(3, len(names))
        rows = (len(names) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names):
            _bars(
                ax,
                stats.attributes[name],
                name.replace("_", " "),
                "",
                ylabel="identities" if stats.attribute_level == "identity" else "tracklets",
            )
        for ax in list(axes.flat)[len(names) :]:
            ax.axis("off")
        fig.suptitle(f"Attributes per {stats.attribute_level} (GREW Fig. 5 style)")
        fig.tight_layout()
        _save(fig, folder / "attributes.png")
        plt.close(fig)
        out["attributes.png"] = f"Attribute distributions, majority value per {stats.attribute_level}."
    return out
