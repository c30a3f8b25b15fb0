"""Labelling tasks built from the candidates manifest: one task per query tracklet.

The task key is the query tracklet id, so a re-push finds the task again however the
candidates changed; the machine's ranking rides along as a prediction that pre-selects
"same" for the rank-1 candidate when its score clears ``preselect_min_score``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pyarrow as pa

from grewkit.annotate.backends.base import TaskSpec


def build_tasks(
    *,
    candidates: pa.Table,
    tracklets: pa.Table,
    strips: dict[str, str],
    placeholder: str,
    media_url: Callable[[str], str],
    k: int,
    preselect_min_score: float,
    slots: int | None = None,
) -> list[TaskSpec]:
    """Tasks with ``k`` candidates in ``slots`` (>= k) candidate slots; empty slots show a placeholder."""
    slots = max(slots or k, k)
    info = {
        r["tracklet_id"]: r
        for r in tracklets.select(["tracklet_id", "camera_id", "start_frame", "end_frame"]).to_pylist()
    }
    ranked: dict[str, list[dict]] = defaultdict(list)
    for row in candidates.to_pylist():
        ranked[row["query_tracklet_id"]].append(row)
    tasks = []
    for query in sorted(ranked):
        rows = sorted(ranked[query], key=lambda r: r["rank"])[:k]
        q = info[query]
        data = {
            "query_id": query,
            "query_camera": q["camera_id"],
            "query_frames": f"{q['start_frame']}-{q['end_frame']}",
            "query_image": media_url(strips[query]),
        }
        for i in range(1, slots + 1):
            if i <= len(rows):
                c = rows[i - 1]
                cid = c["candidate_tracklet_id"]
                data[f"cand{i}_id"] = cid
                data[f"cand{i}_label"] = (
                    f"Candidate {i}: {cid} (camera {info[cid]['camera_id']}, similarity {c['score']:.3f})"
                )
                data[f"cand{i}_image"] = media_url(strips[cid])
                data[f"cand{i}_score"] = round(float(c["score"]), 4)
            else:
                data[f"cand{i}_id"] = ""
                data[f"cand{i}_label"] = f"Candidate {i}: none (leave empty)"
                data[f"cand{i}_image"] = media_url(placeholder)
                data[f"cand{i}_score"] = None
        predictions = []
        if rows and rows[0]["score"] >= preselect_min_score:
            predictions.append(
                {
                    "model_version": rows[0]["method"],
                    "score": round(float(rows[0]["score"]), 4),
                    "result": [
                        {
                            "from_name": "cand1",
                            "to_name": "cand1_image",
                            "type": "choices",
                            "value": {"choices": ["same"]},
                        }
                    ],
                }
            )
        tasks.append(TaskSpec(key=query, data=data, predictions=predictions))
    return tasks
