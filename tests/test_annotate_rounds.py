"""The round planner: what the answers imply is never asked, contradictions become adjudications."""

import json
from collections import Counter

import pyarrow as pa
from test_annotate_resolve import _ann, _table, _tracklets

from grewkit.annotate.resolve import _pair, resolve
from grewkit.annotate.rounds import candidate_scores, first_round, plan_round
from grewkit.annotate.timeline import Timeline


def _candidates(rows):
    return pa.table(
        {
            "query_tracklet_id": [q for q, _, _ in rows],
            "candidate_tracklet_id": [c for _, c, _ in rows],
            "rank": list(range(1, len(rows) + 1)),
            "score": [s for _, _, s in rows],
            "method": ["m"] * len(rows),
        }
    )


def _plan(tracks, rows, candidates, *, asked_tasks=(), audited=(), adjudicated=None, min_same_votes=1):
    res = resolve(_table(rows), tracks, min_same_votes=min_same_votes)
    asked, asked_from = Counter(), {}
    for query, cands in asked_tasks:
        for c in cands:
            asked[_pair(query, c)] += 1
            asked_from.setdefault(_pair(query, c), set()).add(query)
    info = {r["tracklet_id"]: r for r in tracks.to_pylist()}
    return plan_round(
        round_number=2,
        state=res.state,
        scores=candidate_scores(_candidates(candidates)),
        info=info,
        timeline=None,
        asked=asked,
        asked_from=asked_from,
        adjudicated=adjudicated or Counter(),
        audited=set(audited),
        k=5,
        max_asks=4,
        max_adjudications=2,
    )


def _asked_pairs(plan):
    return {_pair(t.query, c) for t in plan.tasks for c, _ in t.candidates}


def test_first_round_is_one_task_per_query_with_its_top_k():
    tasks = first_round(_candidates([("A1", "B1", 0.9), ("A1", "C1", 0.5), ("B1", "A1", 0.9)]), k=1)
    assert [(t.key, t.query, [c for c, _ in t.candidates]) for t in tasks] == [
        ("A1", "A1", ["B1"]),
        ("B1", "B1", ["A1"]),
    ]


def test_first_round_shows_a_query_s_neighbours_in_its_own_video_after_its_top_k():
    candidates = _candidates([("A1", "B1", 0.9), ("B1", "A1", 0.9), ("B2", "A1", 0.4)])
    tasks = first_round(candidates, k=1, neighbours={"B1": ["B2"], "B2": ["B1"]})
    assert {t.query: [c for c, _ in t.candidates] for t in tasks} == {
        "A1": ["B1"],
        "B1": ["A1", "B2"],
        "B2": ["A1", "B1"],
    }
    # "cover" keeps a task that shows a neighbour, even when its candidates rank it back.
    cover = first_round(candidates, k=1, mode="cover", neighbours={"B1": ["B2"], "B2": ["B1"]})
    assert "B1" in {t.query for t in cover}


def test_implied_and_given_pairs_are_never_asked():
    # A1 = B1 (given), B1 = C1 (given): A1-C1 is implied; B1 != D1 carries to A1-D1 and C1-D1.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "D1": ("D", 0, 9)})
    rows = [_ann(1, "A1", ["B1"], links=["same"]), _ann(2, "B1", ["C1", "D1"], links=["same", "different"])]
    candidates = [
        ("A1", "B1", 0.9),
        ("A1", "C1", 0.8),
        ("A1", "D1", 0.7),
        ("C1", "D1", 0.6),
        ("B1", "C1", 0.9),
        ("B1", "D1", 0.5),
    ]
    # D1's audit, answered: a second look that B1 and D1 are two people.
    rows.append(_ann(3, "D1", ["B1"], annotator="b@x", links=["different"]))
    asked = [("A1", ["B1"]), ("B1", ["C1", "D1"]), ("D1", ["B1"])]
    plan = _plan(tracks, rows, candidates, asked_tasks=asked, audited={"D1"})
    assert plan.closed and plan.tasks == [] and plan.undecided_group_pairs == 0


def test_an_open_group_pair_is_asked_once_through_its_best_member_pair():
    # {A1, B1} and {C1} are joined by no answer yet; of the two member pairs the best one is asked.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [_ann(1, "A1", ["B1"], links=["same"])]
    plan = _plan(tracks, rows, [("A1", "B1", 0.9), ("A1", "C1", 0.4), ("C1", "B1", 0.7)], asked_tasks=[("A1", ["B1"])])
    assert _asked_pairs(plan) == {("B1", "C1")}
    assert plan.tasks[0].key.startswith("r2-") and plan.tasks[0].kind == "link"


def test_same_camera_same_time_rules_a_group_pair_out_without_asking():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "A2": ("A", 5, 15)})
    rows = [_ann(1, "A1", ["B1"], links=["same"])]
    plan = _plan(tracks, rows, [("A1", "B1", 0.9), ("A2", "B1", 0.8)], asked_tasks=[("A1", ["B1"])])
    assert not [t for t in plan.tasks if t.kind == "link"] and plan.undecided_group_pairs == 0


def test_a_lone_same_is_asked_again_from_its_other_side():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9)})
    rows = [_ann(1, "A1", ["B1"], links=["same"])]
    plan = _plan(tracks, rows, [("A1", "B1", 0.9)], asked_tasks=[("A1", ["B1"])], min_same_votes=2)
    assert [(t.query, [c for c, _ in t.candidates]) for t in plan.tasks] == [("B1", ["A1"])]


def test_a_contradiction_becomes_an_adjudication_task_showing_the_chain():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1", "C1"], links=["same", "different"]),
        _ann(2, "B1", ["C1"], links=["same"]),
    ]
    plan = _plan(tracks, rows, [("A1", "B1", 0.9), ("B1", "C1", 0.8), ("A1", "C1", 0.3)])
    (task,) = plan.tasks
    assert task.kind == "adjudicate" and task.key == "adj2-A1"
    assert task.query == "A1" and [c for c, _ in task.candidates] == ["B1", "C1"]
    assert "A1 = B1 = C1" in task.note and task.avoid_annotators == ("a@x",)
    # Adjudicated twice already: given up, the group stays held out.
    again = _plan(tracks, rows, [("A1", "B1", 0.9), ("B1", "C1", 0.8)], adjudicated=Counter({"A1|B1|C1": 2}))
    assert again.tasks == [] and again.held_groups == 1


def test_an_adjudication_answer_overrules_the_votes_and_cuts_the_chain():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1", "C1"], links=["same", "different"]),
        _ann(2, "B1", ["C1"], links=["same"]),
    ]
    adjudication = _ann(3, "A1", ["B1", "C1"], annotator="b@x", links=["same", "different"], minutes=5)
    adjudication["task_key"] = "adj2-A1"
    adjudication["task_data_json"] = adjudication["task_data_json"].replace("{", '{"kind": "adjudicate", ', 1)
    res = resolve(_table([*rows, adjudication]), tracks)
    ids = {r["tracklet_id"]: (r["identity_id"], r["status"]) for r in res.identities.to_pylist()}
    assert ids["A1"] == ids["B1"] == ("id-A1", "resolved") and ids["C1"] == ("id-C1", "resolved")
    assert res.report["conflicts"] == []


def test_same_for_one_camera_at_one_time_is_rejected_with_the_task_named():
    tracks = _tracklets({"A1": ("A", 0, 9), "A2": ("A", 5, 15)})
    row = _ann(1, "A1", ["A2"], links=["same"])
    res = resolve(_table([row]), tracks)
    assert len({r["identity_id"] for r in res.identities.to_pylist()}) == 2
    assert res.report["rejected_answers"] and "task A1" in res.report["rejected_answers"][0]


def test_an_answer_for_an_empty_slot_is_rejected_with_the_task_named():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9)})
    row = _ann(1, "A1", ["B1"], links=["different", "same"])  # slot 2 shows nothing
    res = resolve(_table([row]), tracks)
    assert "slot cand2" in res.report["rejected_answers"][0] and "task A1" in res.report["rejected_answers"][0]
    assert res.report["pairs"]["linked"] == 0


def test_a_single_camera_group_is_audited_beside_the_closest_multi_camera_group():
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "C2": ("C", 20, 29)})
    rows = [_ann(1, "A1", ["B1"], links=["same"]), _ann(2, "C1", ["A1", "B1"], links=["different", "different"])]
    candidates = [("A1", "B1", 0.9), ("C1", "A1", 0.5), ("C1", "B1", 0.6), ("C2", "B1", 0.2)]
    asked = [("A1", ["B1"]), ("C1", ["A1", "B1"]), ("C2", ["B1"])]
    rows.append(_ann(3, "C2", ["B1"], links=["different"]))
    plan = _plan(tracks, rows, candidates, asked_tasks=asked)
    # Both single-camera tracklets resemble B1 most: one task around B1 shows them both.
    audits = {t.query: [c for c, _ in t.candidates] for t in plan.tasks if t.kind == "audit"}
    assert audits == {"B1": ["C1", "C2"]} and plan.unaudited_groups == 2
    # Pushed but not answered: no audit yet. Answered "different" for both: audited.
    pushed = _plan(tracks, rows, candidates, asked_tasks=[*asked, ("B1", ["C1", "C2"])], audited={"C1", "C2"})
    assert [t.kind for t in pushed.tasks] == ["audit"] and pushed.unaudited_groups == 2
    rows.append(_ann(4, "B1", ["C1", "C2"], links=["different", "different"]))
    done = _plan(tracks, rows, candidates, asked_tasks=[*asked, ("B1", ["C1", "C2"])], audited={"C1", "C2"})
    assert done.closed and done.unaudited_groups == 0 and done.undecided_audits == []


def test_a_single_camera_piece_is_audited_beside_the_benchmark_group_of_its_neighbour_in_time():
    # B2 follows B1 in camera B (a walk cut in two); B1 is linked to A1, and no candidate ranks B2
    # near that person: its audit still shows {A1, B1}.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "B2": ("B", 11, 30), "C1": ("C", 40, 49)})
    rows = [_ann(1, "A1", ["B1"], links=["same"]), _ann(2, "B1", ["A1"], annotator="b@x", links=["same"])]
    rows.append(_ann(3, "B2", ["C1"], links=["different"]))
    candidates = [("A1", "B1", 0.9), ("B1", "A1", 0.9), ("B2", "C1", 0.3), ("C1", "A1", 0.2)]
    res = resolve(_table(rows), tracks)
    info = {r["tracklet_id"]: r for r in tracks.to_pylist()}
    asked = Counter({("A1", "B1"): 2, ("B2", "C1"): 1, ("A1", "C1"): 2})

    def plan(neighbours):
        return plan_round(
            round_number=2,
            state=res.state,
            scores=candidate_scores(_candidates(candidates)),
            info=info,
            timeline=Timeline(fps={"B-v": 10.0}),
            asked=asked,
            asked_from={},
            adjudicated=Counter(),
            audited=set(),
            k=5,
            max_asks=4,
            max_adjudications=2,
            neighbours=neighbours,
        )

    # The neighbours manifest's lists, as the candidates step writes them within 2 s.
    pieces = Timeline(fps={"B-v": 10.0}).neighbours(info, 2.0)
    assert pieces == {"B1": ["B2"], "B2": ["B1"]}, pieces
    audits = {t.query: sorted(c for c, _ in t.candidates) for t in plan(pieces).tasks if t.kind == "audit"}
    assert any("B2" in [q, *cs] and ({"A1", "B1"} & {q, *cs}) for q, cs in audits.items()), audits
    without = {t.query: sorted(c for c, _ in t.candidates) for t in plan({}).tasks if t.kind == "audit"}
    assert not any("B2" in [q, *cs] and ({"A1", "B1"} & {q, *cs}) for q, cs in without.items()), without


def test_a_doubtful_audit_is_asked_again_and_then_held_out_not_released_as_a_distractor():
    # C1 looks like the benchmark person {A1, B1} (score 0.9) and two answers say "different": under
    # the posterior rule that separates the pair (P(different) 0.95) but is not the standard of a
    # link, so the audit is asked again; once the pair has been asked max_asks times and the
    # answers still fall short, C1 is held out.
    from grewkit.annotate.campaign import AUDIT_UNDECIDED, mark_audits

    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [_ann(1, "A1", ["B1"], links=["same"]), _ann(2, "C1", ["B1"], links=["different"])]
    rows.append(_ann(6, "B1", ["C1"], annotator="e@x", links=["different"]))
    rows += [_ann(3 + i, "B1", ["A1"], annotator=f"{name}@x", links=["same"]) for i, name in enumerate("bcd")]
    candidates = [("A1", "B1", 0.9), ("C1", "B1", 0.9)]
    scores = candidate_scores(_candidates(candidates))
    res = resolve(_table(rows), tracks, link_rule="posterior", scores=scores)
    assert res.state.decisions[("B1", "C1")] == "separated"
    info = {r["tracklet_id"]: r for r in tracks.to_pylist()}

    def plan(times_asked):
        return plan_round(
            round_number=3,
            state=res.state,
            scores=scores,
            info=info,
            timeline=None,
            asked=Counter({("A1", "B1"): 2, ("B1", "C1"): times_asked}),
            asked_from={("A1", "B1"): {"A1", "B1"}, ("B1", "C1"): {"C1", "B1"}},
            adjudicated=Counter(),
            audited={"C1", "B1"},
            k=5,
            max_asks=3,
            max_adjudications=2,
        )

    again = plan(2)
    assert [(t.kind, t.query, [c for c, _ in t.candidates]) for t in again.tasks] == [("audit", "B1", ["C1"])]
    spent = plan(3)
    assert spent.closed and spent.undecided_audits == ["C1"]
    marked = {
        r["tracklet_id"]: (r["status"], r["reason"])
        for r in mark_audits(res.identities, {"undecided_audit_tracklets": spent.undecided_audits}).to_pylist()
    }
    assert marked["C1"] == ("held_out", AUDIT_UNDECIDED) and marked["A1"][0] == "resolved"


def test_each_pair_once_packs_a_first_round_around_shared_tracklets():
    # A1-B1 is ranked from both sides: asked once; B1's pairs share one task.
    rows = [("A1", "B1", 0.9), ("B1", "A1", 0.9), ("B1", "C1", 0.5), ("C1", "B1", 0.6)]
    tasks = first_round(_candidates(rows), k=5, mode="pairs")
    assert [(t.key, t.query, sorted(c for c, _ in t.candidates)) for t in tasks] == [("B1", "B1", ["A1", "C1"])]
    # More pairs than K around one tracklet: a second task, its key the query's with a suffix.
    rows = [(x, "A1", 0.9) for x in ("B1", "C1", "D1")]
    assert [t.key for t in first_round(_candidates(rows), k=2, mode="pairs")] == ["A1", "A1.2"]


def test_answers_that_confirm_each_other_link_without_asking_again():
    # A1 = B1 = C1 once each (a closed triangle): every cut of {A1, B1, C1} is crossed by two
    # "same" answers, as good as one pair asked twice.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [_ann(1, "A1", ["B1", "C1"], links=["same", "same"]), _ann(2, "B1", ["C1"], links=["same"])]
    res = resolve(_table(rows), tracks, min_same_votes=2)
    assert res.report["identities"] == 1 and res.report["pairs"]["linked_by_agreement"] == 3
    assert _plan(tracks, rows, [], asked_tasks=[("A1", ["B1", "C1"]), ("B1", ["C1"])], min_same_votes=2).closed
    # Three votes needed: the triangle is not enough, every pair stays pending and is asked again.
    res = resolve(_table(rows), tracks, min_same_votes=3)
    assert res.report["identities"] == 3 and res.report["pairs"]["pending"] == 3


def test_one_wrong_same_between_two_confirmed_people_stays_pending():
    # A1 = B1 and C1 = D1 from both sides; one wrong "same" B1-C1 is a cut of one vote: not linked.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "D1": ("D", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1"], links=["same"]),
        _ann(2, "B1", ["A1", "C1"], links=["same", "same"]),
        _ann(3, "C1", ["D1"], links=["same"]),
        _ann(4, "D1", ["C1"], links=["same"]),
    ]
    res = resolve(_table(rows), tracks, min_same_votes=2)
    groups = {r["tracklet_id"]: r["identity_id"] for r in res.identities.to_pylist()}
    assert groups["A1"] == groups["B1"] != groups["C1"] == groups["D1"]
    assert res.state.decisions[("B1", "C1")] == "pending"
    plan = _plan(
        tracks,
        rows,
        [],
        asked_tasks=[("A1", ["B1"]), ("B1", ["A1", "C1"]), ("C1", ["D1"]), ("D1", ["C1"])],
        min_same_votes=2,
    )
    assert _asked_pairs(plan) == {("B1", "C1")}


def test_a_single_camera_group_judged_different_twice_needs_no_audit_question():
    # C1 was judged different from the group {A1, B1} in two tasks (its own and B1's): that is the
    # audit already. C2 once only: it is audited, beside B1, and nothing else is shown.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9), "C2": ("C", 20, 29)})
    rows = [
        _ann(1, "A1", ["B1"], links=["same"]),
        _ann(2, "C1", ["A1", "B1"], links=["different", "different"]),
        _ann(3, "B1", ["C1"], links=["different"]),
        _ann(4, "C2", ["B1"], links=["different"]),
    ]
    candidates = [("A1", "B1", 0.9), ("C1", "A1", 0.5), ("C1", "B1", 0.6), ("C2", "B1", 0.2)]
    asked = [("A1", ["B1"]), ("C1", ["A1", "B1"]), ("B1", ["C1"]), ("C2", ["B1"])]
    plan = _plan(tracks, rows, candidates, asked_tasks=asked)
    audits = {t.query: [c for c, _ in t.candidates] for t in plan.tasks if t.kind == "audit"}
    assert audits == {"B1": ["C2"]}
    assert plan.audited_by_answers == 1 and plan.unaudited_groups == 1 and plan.unaudited == ["C2"]


def _adjudication(i, query, candidates, *, annotator, links, chain_annotators):
    row = _ann(i, query, candidates, annotator=annotator, links=links, minutes=5)
    row["task_key"] = f"adj2-{query}"
    data = json.loads(row["task_data_json"]) | {"kind": "adjudicate", "answered_chain": chain_annotators}
    row["task_data_json"] = json.dumps(data)
    return row


def test_an_adjudication_by_the_chain_s_own_annotator_cuts_and_never_merges():
    # a@x said A1 = B1 (twice), B1 = C1 (once) and A1 != C1 (twice); asked to adjudicate, a@x says
    # all three are one person. They contradicted themselves: the answer is one more vote each, and
    # the contradiction that still stands (A1 != C1, 2 to 1) is weighed across the lightest cut
    # (B1-C1): 2 "same" against 2 "different" there, so it is cut.
    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "C1": ("C", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1", "C1"], links=["same", "different"]),
        _ann(2, "B1", ["A1", "C1"], links=["same", "same"]),
        _ann(3, "C1", ["A1"], links=["different"]),
    ]
    own = _adjudication(4, "A1", ["B1", "C1"], annotator="a@x", links=["same", "same"], chain_annotators=["a@x"])
    res = resolve(_table([*rows, own]), tracks)
    ids = {r["tracklet_id"]: (r["identity_id"], r["status"]) for r in res.identities.to_pylist()}
    assert ids["A1"] == ids["B1"] == ("id-A1", "resolved") and ids["C1"] == ("id-C1", "resolved")
    assert res.report["pairs"]["cut"] == 1 and res.report["cuts"][0]["links"] == [["B1", "C1"]]
    assert res.report["cuts"][0]["outcome"] == "cut" and res.report["conflicts"] == []
    # "Same" one vote ahead across the cut (3 to 2), less than a link needs (2): neither cut nor
    # kept, both sides are asked again.
    closer = [*rows[:2], _ann(3, "C1", ["A1", "B1"], links=["different", "same"]), own]
    res = resolve(_table(closer), tracks, min_same_votes=2)
    assert res.report["cuts"][0]["outcome"] == "asked again"
    assert res.state.decisions[("B1", "C1")] == "pending" and res.state.decisions[("A1", "C1")] == "disputed"
    assert res.report["identities"] == 2 and res.report["held_out_tracklets"] == 0
    # Someone who answered none of the chain overrules, as before: all three one person.
    other = _adjudication(4, "A1", ["B1", "C1"], annotator="b@x", links=["same", "same"], chain_annotators=["a@x"])
    res = resolve(_table([*rows, other]), tracks)
    assert {r["identity_id"] for r in res.identities.to_pylist()} == {"id-A1"}
    # So does the majority of several, even when each of them answered the chain.
    both = [
        _adjudication(4, "A1", ["B1", "C1"], annotator=a, links=["same", "same"], chain_annotators=["a@x", "b@x"])
        for a in ("a@x", "b@x")
    ]
    res = resolve(_table([*rows, *both]), tracks)
    assert {r["identity_id"] for r in res.identities.to_pylist()} == {"id-A1"}


def test_a_cover_first_round_leaves_out_tasks_whose_pairs_the_other_side_shows():
    # A1 and B1 rank each other: A1's task (tried first among the equally scored) shows nothing
    # that B1's does not; C1 ranks D1, which no task shows from its side: C1's task stays.
    rows = [("A1", "B1", 0.9), ("B1", "A1", 0.9), ("B1", "C1", 0.5), ("C1", "B1", 0.5), ("C1", "D1", 0.4)]
    tasks = first_round(_candidates(rows), k=5, mode="cover")
    assert [(t.key, [c for c, _ in t.candidates]) for t in tasks] == [("B1", ["A1", "C1"]), ("C1", ["B1", "D1"])]
    shown = {_pair(t.query, c) for t in tasks for c, _ in t.candidates}
    assert shown == {_pair(q, c) for q, c, _ in rows}


def test_a_twin_of_a_benchmark_person_is_held_out_not_audited_or_released_as_a_distractor():
    # B1 and B2 are one walker boxed twice at once in camera B (a tracker's duplicate): the answers
    # link both to A1, one camera at one time forbids B1 = B2, and the cut leaves B1 alone. Its
    # answers with A1 still say "same" at the standard of a link, so no audit can clear it as a
    # distractor: it is held out as a twin.
    from grewkit.annotate.campaign import TWIN, mark_audits

    tracks = _tracklets({"A1": ("A", 0, 9), "B1": ("B", 0, 9), "B2": ("B", 0, 9)})
    rows = [
        _ann(1, "A1", ["B1", "B2"], links=["same", "same"]),
        _ann(2, "B1", ["A1", "B2"], links=["same", "same"]),
        _ann(3, "B2", ["A1"], links=["same"]),
    ]
    adjudication = _ann(4, "A1", ["B1", "B2"], links=["same", "same"], minutes=5)
    adjudication["task_key"] = "adj2-A1"
    adjudication["task_data_json"] = adjudication["task_data_json"].replace(
        "{", '{"kind": "adjudicate", "answered_chain": ["a@x"], ', 1
    )
    scores = candidate_scores(_candidates([("A1", "B1", 0.9), ("A1", "B2", 0.9), ("B1", "A1", 0.9), ("B2", "A1", 0.9)]))
    res = resolve(_table([*rows, adjudication]), tracks, link_rule="posterior", scores=scores)
    assert res.state.groups == {"A1": ["A1", "B2"], "B1": ["B1"]}, res.state.groups
    plan = plan_round(
        round_number=3,
        state=res.state,
        scores=scores,
        info={r["tracklet_id"]: r for r in tracks.to_pylist()},
        timeline=None,
        asked=Counter({("A1", "B1"): 2, ("A1", "B2"): 2, ("B1", "B2"): 1}),
        asked_from={},
        adjudicated=Counter({"A1|B1|B2": 1}),
        audited=set(),
        k=5,
        max_asks=6,
        max_adjudications=2,
    )
    assert plan.closed and plan.twins == ["B1"] and plan.unaudited == [] and plan.undecided_audits == []
    marked = {
        r["tracklet_id"]: (r["status"], r["reason"])
        for r in mark_audits(res.identities, {"twin_tracklets": plan.twins}).to_pylist()
    }
    assert marked["B1"] == ("held_out", TWIN) and marked["A1"][0] == marked["B2"][0] == "resolved"
