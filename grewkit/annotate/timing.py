"""Annotator time from the annotations manifest: seconds per task, per link and per released sequence.

The seconds are the server's lead times (``lead_time_s``: from opening a task to submitting it, as
the labelling page measures it). Skips count: a person spent that time too. A "link" is one
candidate judged same / different / unsure in an answer, so a task of K candidates answered once
is K links. Figures are None where nothing recorded a lead time, never a made-up zero.
"""

from __future__ import annotations

import json

import pyarrow as pa

from grewkit.annotate.config import LINK_CHOICES


def links_in(result_json: str | None) -> int:
    """Candidates judged in one answer (the ``cand<i>`` choices with a link value)."""
    if not result_json:
        return 0
    n = 0
    for item in json.loads(result_json):
        name = str(item.get("from_name", ""))
        choices = (item.get("value") or {}).get("choices") or []
        if name.startswith("cand") and name[4:].isdigit() and any(c in LINK_CHOICES for c in choices):
            n += 1
    return n


def time_figures(annotations: pa.Table | None, released_sequences: int | None = None) -> dict:
    """Annotator seconds in all, and per task, per link and per released sequence (None where unknown)."""
    out = {
        "timed_answers": 0,
        "annotator_seconds": None,
        "seconds_per_task": None,
        "seconds_per_link": None,
        "seconds_per_sequence": None,
    }
    if annotations is None or annotations.num_rows == 0 or "lead_time_s" not in annotations.column_names:
        return out
    times = annotations["lead_time_s"].to_pylist()
    timed = [i for i, t in enumerate(times) if t is not None]
    if not timed:
        return out
    seconds = float(sum(times[i] for i in timed))
    keys = annotations["task_key"].to_pylist()
    tasks = len({keys[i] for i in timed})
    out["timed_answers"] = len(timed)
    out["annotator_seconds"] = round(seconds, 2)
    out["seconds_per_task"] = round(seconds / tasks, 2)
    if "result_json" in annotations.column_names:
        results = annotations["result_json"].to_pylist()
        links = sum(links_in(results[i]) for i in timed)
        out["seconds_per_link"] = round(seconds / links, 2) if links else None
    if released_sequences:
        out["seconds_per_sequence"] = round(seconds / released_sequences, 2)
    return out
