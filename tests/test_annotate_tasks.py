"""Task building: each unordered pair of tracklets is asked once, whichever side ranks it."""

from __future__ import annotations

import pyarrow as pa

from grewkit.annotate.tasks import build_tasks

RANKED = {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B", "D"], "D": ["C"]}


def build(k: int = 3):
    rows = [(q, c, r) for q, cands in RANKED.items() for r, c in enumerate(cands, 1)]
    candidates = pa.table({"query_tracklet_id": [q for q, _, _ in rows], "candidate_tracklet_id": [c for _, c, _ in rows],
                           "rank": [r for _, _, r in rows], "score": [1.0 - 0.1 * r for _, _, r in rows],
                           "method": ["appearance"] * len(rows)})
    ids = sorted(RANKED)
    tracklets = pa.table({"tracklet_id": ids, "camera_id": ["c1", "c2", "c3", "c4"], "start_frame": [0] * 4,
                          "end_frame": [10] * 4})
    return build_tasks(candidates=candidates, tracklets=tracklets, strips={t: f"{t}.jpg" for t in ids},
                       placeholder="none.jpg", media_url=lambda rel: "/" + rel, k=k, preselect_min_score=0.0)


def asked(task) -> list[str]:
    return [v for key, v in task.data.items() if key.startswith("cand") and key.endswith("_id") and v]


def test_a_pair_is_asked_once_whichever_side_ranks_it():
    tasks = {t.key: t for t in build()}
    # Every query keeps its task (its attributes are asked there), but B-A, C-A, C-B and D-C were asked before.
    assert {key: asked(t) for key, t in tasks.items()} == {"A": ["B", "C"], "B": ["C"], "C": ["D"], "D": []}
    pairs = [frozenset((key, c)) for key, t in tasks.items() for c in asked(t)]
    assert len(pairs) == len(set(pairs)) == 4
    # Emptied slots show the placeholder, and no prediction pre-selects a candidate that is not there.
    assert tasks["D"].data["cand1_image"] == "/none.jpg" and tasks["D"].predictions == []
    assert tasks["C"].data["cand1_id"] == "D"


def test_k_counts_the_questions_left():
    tasks = {t.key: t for t in build(k=1)}
    # B's rank-1 (A) was asked by A, so its one question is its rank-2, C.
    assert {key: asked(t) for key, t in tasks.items()} == {"A": ["B"], "B": ["C"], "C": ["A"], "D": ["C"]}
