"""Labelling tasks built from a round's planned tasks (grewkit.annotate.rounds).

The task key is stable across pushes (round 1: the query tracklet id; later rounds: the round
and the query), so a re-push finds the task again however the candidates changed. On link tasks
the machine's ranking rides along as a prediction that pre-selects "same" for the rank-1
candidate when its score clears ``preselect_min_score``. Adjudication and audit tasks use the
same page, with a note above the candidates that says what is asked.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from grewkit.annotate.backends.base import TaskSpec


def build_tasks(
    *,
    planned: list,
    tracklets: pa.Table,
    strips: dict[str, str],
    placeholder: str,
    media_url: Callable[[str], str],
    k: int,
    preselect_min_score: float,
    slots: int | None = None,
    method: str = "",
) -> list[TaskSpec]:
    """Tasks with their candidates in ``slots`` (>= k) candidate slots; empty slots show a placeholder."""
    slots = max(slots or k, k, *(len(t.candidates) for t in planned)) if planned else max(slots or k, k)
    info = {
        r["tracklet_id"]: r
        for r in tracklets.select(["tracklet_id", "camera_id", "start_frame", "end_frame"]).to_pylist()
    }
    tasks = []
    for task in planned:
        q = info[task.query]
        data = {
            "query_id": task.query,
            "query_camera": q["camera_id"],
            "query_frames": f"{q['start_frame']}-{q['end_frame']}",
            "query_image": media_url(strips[task.query]),
            "kind": task.kind,
            "note": task.note,
        }
        if task.avoid_annotators:
            data["answered_chain"] = list(task.avoid_annotators)
        for i in range(1, slots + 1):
            if i <= len(task.candidates):
                cid, score = task.candidates[i - 1]
                data[f"cand{i}_id"] = cid
                data[f"cand{i}_label"] = (
                    f"Candidate {i}: {cid} (camera {info[cid]['camera_id']}, similarity {score:.3f})"
                )
                data[f"cand{i}_image"] = media_url(strips[cid])
                data[f"cand{i}_score"] = round(float(score), 4)
            else:
                data[f"cand{i}_id"] = ""
                data[f"cand{i}_label"] = f"Candidate {i}: none (leave empty)"
                data[f"cand{i}_image"] = media_url(placeholder)
                data[f"cand{i}_score"] = None
        predictions = []
        if task.kind == "link" and task.candidates and task.candidates[0][1] >= preselect_min_score:
            predictions.append(
                {
                    "model_version": method,
                    "score": round(float(task.candidates[0][1]), 4),
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
        tasks.append(TaskSpec(key=task.key, data=data, predictions=predictions))
    return tasks
