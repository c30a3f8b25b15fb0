"""``grewkit evaluate``, ``grewkit submission`` and ``grewkit score``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from grewkit.cli.options import project_option
from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError

console = Console()


def _ints(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GrewkitError(f"expected comma-separated integers, not {text!r}") from None


def convention_options(fn):
    # Defaults come from the project's [evaluate] settings (see `grewkit init`'s grewkit.toml).
    fn = click.option(
        "--ties",
        type=click.Choice(["pessimistic", "optimistic"]),
        default=None,
        help="A true match tied with another identity ranks after it (pessimistic) or before. [evaluate] ties",
    )(fn)
    fn = click.option(
        "--exclude",
        type=click.Choice(["none", "same-camera", "same-view", "same-identity-camera"]),
        default=None,
        help="Remove gallery entries from the probe's own camera or view, or (CCPG) those "
        "of the probe's identity seen by its camera. [evaluate] exclude",
    )(fn)
    fn = click.option(
        "--no-match",
        type=click.Choice(["miss", "skip"]),
        default=None,
        help="Probes without a true match in the gallery: misses (GREW) or skipped (Gait3D). [evaluate] no_match",
    )(fn)
    fn = click.option(
        "--distance",
        type=click.Choice(["auto", "euclidean", "euclidean_parts", "cosine", "cosine_parts"]),
        default=None,
        help="Formulas in docs/evaluation.md; auto: the protocol's OpenGait distance. [evaluate] distance",
    )(fn)
    fn = click.option("--device", default=None, help="cpu or cuda. [evaluate] device")(fn)
    return fn


def _settings(project, **given):
    """The [evaluate] settings with the command-line options that were given laid over them."""
    s = project.settings.section("evaluate")
    return {k: (v if v is not None else getattr(s, k)) for k, v in given.items()} | {
        "probe_chunk": s.probe_chunk,
        "gallery_chunk": s.gallery_chunk,
    }


def _print_metrics(title: str, rows: list[dict], first_cols: list[str]):
    if not rows:
        return
    table = Table(title=title)
    cols = first_cols + [c for c in rows[0] if c not in first_cols]
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(
            *[
                (f"{r[c]:.2f}" if isinstance(r.get(c), float) and not math.isnan(r[c]) else str(r.get(c, "")))
                for c in cols
            ]
        )
    console.print(table)


@click.command("evaluate")
@project_option
@click.option(
    "--features",
    "features_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder written by `grewkit embed` (features.npy + index.json).",
)
@click.option(
    "--protocol",
    type=click.Choice(["grew", "grew-distractors", "identities", "attributes", "gait3d", "casiab"]),
    default="grew",
    show_default=True,
)
@convention_options
@click.option(
    "--distractor-counts", default=None, help="grew-distractors: comma-separated counts (default 0, 1/4, 1/2, all)."
)
@click.option(
    "--identity-counts", default=None, help="identities: comma-separated counts (default 1/8, 1/4, 1/2, all)."
)
@click.option("--include-identical-view", is_flag=True, help="casiab: also compare probes with same-view gallery.")
@click.option("--seed", default=0, show_default=True, help="Order of distractors and identities in the curves.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), help="Write the full result as JSON.")
def evaluate_command(
    project,
    features_dir,
    protocol,
    distance,
    no_match,
    exclude,
    ties,
    device,
    distractor_counts,
    identity_counts,
    include_identical_view,
    seed,
    out_path,
):
    """Score extracted features with a protocol: Rank-1/5/10/20, mAP, mINP (and curves).

    \b
    Examples:
      grewkit evaluate --features features/gaitbase --protocol grew
      grewkit evaluate --features features/gei --protocol casiab --include-identical-view
      grewkit evaluate --features features/gaitset --protocol grew-distractors --distractor-counts 0,1000,10000
      grewkit evaluate --features f --protocol gait3d --distance cosine
    """
    from grewkit.evaluate.features import check_features_of, load_features
    from grewkit.evaluate.metrics import Conventions
    from grewkit.evaluate.protocols import Catalog, Options, run_protocol
    from grewkit.evaluate.search import SearchConfig

    c = _settings(project, distance=distance, no_match=no_match, exclude=exclude, ties=ties, device=device)
    from grewkit.evaluate.conventions import resolve_distance

    distance, no_match, exclude, ties = (
        resolve_distance(c["distance"], protocol),
        c["no_match"],
        c["exclude"],
        c["ties"],
    )
    features = load_features(features_dir)
    check_features_of(project, features, folder=features_dir)
    catalog = Catalog.from_project(project)
    conventions = Conventions(distance=distance, no_match=no_match, exclude=exclude, ties=ties)
    options = Options(
        search=SearchConfig(device=c["device"], probe_chunk=c["probe_chunk"], gallery_chunk=c["gallery_chunk"]),
        distractor_counts=_ints(distractor_counts),
        identity_counts=_ints(identity_counts),
        include_identical_view=include_identical_view,
        seed=seed,
    )
    result = run_protocol(protocol, catalog, features, conventions, options)
    result["features"] = str(Path(features_dir))
    if protocol == "casiab":
        rows = [
            {"probes": name, "rank1": v["rank1"], **{f"view {pv}": x for pv, x in v["per_view"].items()}}
            for name, v in result["conditions"].items()
        ]
        _print_metrics(
            f"CASIA-B Rank-1 (%), identical view {'included' if include_identical_view else 'excluded'}",
            rows,
            ["probes"],
        )
    else:
        _print_metrics(
            f"{protocol} ({distance}, no-match={no_match}, exclude={exclude}, ties={ties})", [result["metrics"]], []
        )
        if "curve" in result:
            _print_metrics("curve", result["curve"], [])
        if "subsets" in result:
            _print_metrics("per attribute", result["subsets"], ["attribute", "value"])
    if out_path:
        write_json(out_path, result)
        click.echo(f"wrote {out_path}")


@click.command("submission")
@project_option
@click.option("--features", "features_dir", required=True, type=click.Path(file_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Submission CSV to write.")
@click.option(
    "--with-distractors/--without-distractors",
    default=True,
    show_default=True,
    help="Add the distractor split to the gallery, as GREW does.",
)
@click.option(
    "--answer-key",
    default=None,
    type=click.Path(dir_okay=False),
    help="Also write the private answer key (videoId,identity) for `grewkit score`.",
)
@click.option(
    "--distance",
    type=click.Choice(["auto", "euclidean", "euclidean_parts", "cosine", "cosine_parts"]),
    default=None,
    help="[evaluate] distance",
)
@click.option("--device", default=None, help="[evaluate] device")
def submission_command(project, features_dir, out_path, with_distractors, answer_key, distance, device):
    """Write a GREW submission CSV: videoId, rank1..rank20 (gallery identities), distractor.

    \b
    Example:
      grewkit submission --features features/gaitbase --out submission.csv --answer-key key.csv
    """
    from grewkit.evaluate.conventions import resolve_distance
    from grewkit.evaluate.features import check_features_of, load_features
    from grewkit.evaluate.protocols import Catalog, _test_sets
    from grewkit.evaluate.search import SearchConfig, encode, search
    from grewkit.evaluate.submission import write_answer_key, write_submission

    c = _settings(project, distance=distance, device=device)
    features = load_features(features_dir)
    check_features_of(project, features, folder=features_dir)
    catalog = Catalog.from_project(project)
    probes, gallery = _test_sets(catalog)
    distractors = catalog.select(split="distractor") if with_distractors else []
    gal_ids = gallery + distractors
    gal_labels = [catalog.rows[s]["identity_id"] for s in gallery] + [None] * len(distractors)
    pl, gl = encode([None] * len(probes), gal_labels)  # probes' identities are private: ranks only
    res = search(
        features.take(probes),
        features.take(gal_ids),
        probe_labels=pl,
        gallery_labels=gl,
        config=SearchConfig(
            distance=resolve_distance(c["distance"], "submission"),
            topk=20,
            device=c["device"],
            probe_chunk=c["probe_chunk"],
            gallery_chunk=c["gallery_chunk"],
        ),
    )
    write_submission(out_path, probes, res.topk_index, gal_labels)
    click.echo(
        f"wrote {out_path}: {len(probes)} probes against {len(gallery)} gallery + {len(distractors)} distractors"
    )
    if answer_key:
        write_answer_key(answer_key, probes, [catalog.rows[s]["identity_id"] for s in probes])
        click.echo(f"wrote {answer_key}")


@click.command("score")
@click.argument("submission", type=click.Path(dir_okay=False))
@click.option("--answer-key", required=True, type=click.Path(dir_okay=False), help="CSV videoId,identity.")
@click.option("--json", "as_json", is_flag=True)
def score_command(submission, answer_key, as_json):
    """Score a GREW submission CSV against a private answer key (GREW's scoring server is gone).

    \b
    Example:
      grewkit score submission.csv --answer-key key.csv
    """
    from grewkit.evaluate.submission import score

    result = score(submission, answer_key)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _print_metrics("score", [result], [])
