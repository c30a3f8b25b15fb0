"""GREW-style submission files, and scoring them against a private answer key.

GREW's scoring server is gone; ``grewkit score`` replaces it for datasets built with grewkit.

Submission CSV (one row per probe)::

    videoId,rank1,...,rank20,distractor

``rankK`` is the identity of the K-th nearest gallery sequence (OpenGait's GREW_submission writes
the same columns); a distractor gallery entry, which has no identity, is written empty. The
``distractor`` column is 1 when the nearest gallery entry is a distractor, i.e. the model says the
probe's identity is not in the labelled gallery.

Answer key CSV: ``videoId,identity`` (empty identity: the probe's identity is not in the gallery).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from grewkit.core.atomic import write_text
from grewkit.core.errors import GrewkitError

RANKS = 20


def header(ranks: int = RANKS) -> list[str]:
    return ["videoId", *[f"rank{i}" for i in range(1, ranks + 1)], "distractor"]


def write_submission(
    path: str | Path, probe_ids: list[str], topk_index: np.ndarray, gallery_labels: list[str | None]
) -> Path:
    ranks = topk_index.shape[1]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header(ranks))
    for pid, row in zip(probe_ids, topk_index):
        labels = [("" if j < 0 or gallery_labels[j] is None else str(gallery_labels[j])) for j in row]
        nearest_is_distractor = int(row[0] >= 0 and gallery_labels[row[0]] is None)
        w.writerow([pid, *labels, nearest_is_distractor])
    write_text(path, buf.getvalue())
    return Path(path)


def write_answer_key(path: str | Path, probe_ids: list[str], identities: list[str | None]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["videoId", "identity"])
    for pid, ident in zip(probe_ids, identities):
        w.writerow([pid, "" if ident is None else ident])
    write_text(path, buf.getvalue())
    return Path(path)


def _read_csv(path: Path, expected: list[str] | None, what: str) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GrewkitError(f"cannot read the {what} ({exc})", path=path) from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise GrewkitError(f"empty {what}", path=path)
    if expected is not None and [c.strip() for c in rows[0]] != expected:
        raise GrewkitError(
            f"{what} header should be {','.join(expected[:3])},...,{expected[-1]} "
            f"({len(expected)} columns), not {','.join(rows[0][:4])}...",
            path=path,
        )
    return rows


def score(submission: str | Path, answer_key: str | Path, ranks=(1, 5, 10, 20)) -> dict:
    """Rank-k (percent) of a submission: a probe is a hit at k when its identity is among rank1..rankk."""
    submission, answer_key = Path(submission), Path(answer_key)
    key_rows = _read_csv(answer_key, ["videoId", "identity"], "answer key")
    key: dict[str, str] = {}
    for line, row in enumerate(key_rows[1:], start=2):
        if len(row) != 2:
            raise GrewkitError(f"line {line}: expected 2 columns, got {len(row)}", path=answer_key)
        if row[0] in key:
            raise GrewkitError(f"line {line}: probe {row[0]!r} appears twice", path=answer_key)
        key[row[0]] = row[1]
    first = _read_csv(submission, None, "submission")[0]
    n_ranks = sum(1 for c in first if c.strip().startswith("rank"))
    if n_ranks < max(ranks):
        raise GrewkitError(
            f"submission has {n_ranks} rank columns; scoring Rank-{max(ranks)} needs {max(ranks)}", path=submission
        )
    rows = _read_csv(submission, header(n_ranks), "submission")
    seen: dict[str, list[str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != n_ranks + 2:
            raise GrewkitError(f"line {line}: expected {n_ranks + 2} columns, got {len(row)}", path=submission)
        if row[0] not in key:
            raise GrewkitError(f"line {line}: probe {row[0]!r} is not in the answer key", path=submission)
        if row[0] in seen:
            raise GrewkitError(f"line {line}: probe {row[0]!r} appears twice", path=submission)
        if row[-1] not in ("0", "1"):
            raise GrewkitError(f"line {line}: distractor column must be 0 or 1, not {row[-1]!r}", path=submission)
        seen[row[0]] = row
    scored = [p for p, ident in key.items() if ident]
    out: dict = {
        "probes_in_key": len(key),
        "probes_scored": len(scored),
        "probes_missing": sum(1 for p in scored if p not in seen),
    }
    for k in ranks:
        hits = sum(1 for p in scored if p in seen and key[p] in seen[p][1 : 1 + k])
        out[f"rank{k}"] = 100.0 * hits / len(scored) if scored else float("nan")
    # Probes whose identity is not in the gallery: did the submission flag them as such?
    outside = [p for p, ident in key.items() if not ident]
    if outside:
        out["outside_probes"] = len(outside)
        out["outside_flagged"] = 100.0 * sum(1 for p in outside if p in seen and seen[p][-1] == "1") / len(outside)
    return out
