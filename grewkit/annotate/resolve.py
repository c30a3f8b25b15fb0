"""From raw annotations to identities and attributes, with every contradiction held out.

Links: each answered candidate slot is a vote "same" or "different" on a tracklet pair (both
directions of a pair pool their votes, one vote per task and annotator; "unsure" is no vote). A
pair is linked when "same" outvotes "different" with at least ``min_same_votes`` "same" votes,
pending when "same" leads with fewer (the next round asks it again), separated when "different"
outvotes "same", and disputed on a tie. Pending pairs that the other answers confirm (every cut
of a set joined by leading "same" votes crossed by ``min_same_votes`` of them) are linked as
well. Adjudication tasks (``kind`` "adjudicate" in the task
data) overrule the votes: the query and the candidates answered "same" are one person, each of
them is separated from the candidates answered "different"; but one answered by a single person
who also answered its chain is only one more vote per pair, and the contradiction that still
stands is cut along the lightest links (``_cut_self_contradictions``), never merged. Identities are the connected
components of the linked pairs (union-find). A component is held out, never merged silently,
when it contains a separated pair (A=B, B=C, A!=C) or two tracklets of one camera at the same
time (detected in one frame, ``timeline.Timeline``: one person cannot be in two places); the conflict carries the chain of links that joins
the pair, which the round planner turns into an adjudication task. Attributes are counted per
tracklet (from the tasks where it is the query) and per resolved identity, with disagreements
counted.

Bad answers are rejected with a line naming the task, never merged: a choice on a candidate slot
that names no tracklet of the task, and "same" for two tracklets of one camera at the same time.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pyarrow as pa

from grewkit.annotate.config import ATTRIBUTES, LINK_CHOICES
from grewkit.annotate.posterior import PairPosteriors, fit_posteriors, sigmoid
from grewkit.annotate.settings import LINK_RULES
from grewkit.annotate.timeline import Timeline


class UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller id becomes the root, so component roots do not depend on input order.
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for x in list(self.parent):
            out[self.find(x)].append(x)
        return {root: sorted(members) for root, members in out.items()}


@dataclass(frozen=True)
class Answer:
    """One annotator's latest answer to one task."""

    task_key: str
    annotator: str
    query: str
    links: dict[str, str]  # candidate tracklet -> same / different / unsure
    attributes: dict[str, list[str]]  # attribute -> chosen values
    kind: str = "link"  # link, adjudicate or audit (the task data's ``kind``)
    updated_at: object = None
    rejected: tuple[str, ...] = ()  # one line per choice that could not be taken
    answered_chain: tuple[str, ...] = ()  # adjudication: who answered the links of its chain


def parse_answer(row: dict) -> Answer | None:
    """None for skips; otherwise the choices of one annotation, slots mapped to tracklet ids."""
    if row["was_cancelled"]:
        return None
    data = json.loads(row.get("task_data_json") or "{}")
    links: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    rejected = []
    for item in json.loads(row["result_json"]):
        name = item.get("from_name", "")
        choices = (item.get("value") or {}).get("choices") or []
        if not choices:
            continue
        if name.startswith("cand") and name[4:].isdigit():
            candidate = data.get(f"{name}_id")
            if not candidate:
                rejected.append(
                    f"task {row['task_key']}: {row['annotator']} answered {choices[0]!r} for slot {name}, "
                    "which shows no tracklet of the task: not counted"
                )
            elif choices[0] in LINK_CHOICES:
                links[candidate] = choices[0]
        elif name in ATTRIBUTES:
            attributes[name] = sorted(set(choices))
    return Answer(
        row["task_key"],
        row["annotator"],
        row["query_tracklet_id"],
        links,
        attributes,
        kind=data.get("kind") or "link",
        updated_at=row["updated_at"],
        rejected=tuple(rejected),
        answered_chain=tuple(data.get("answered_chain") or ()),
    )


def latest_answers(annotations: pa.Table) -> tuple[list[Answer], int]:
    """The latest annotation of each annotator on each task; also the number of skipped tasks."""
    latest: dict[tuple[str, str], dict] = {}
    for row in annotations.to_pylist():
        key = (row["task_key"], row["annotator"])
        if key not in latest or row["updated_at"] > latest[key]["updated_at"]:
            latest[key] = row
    answers, skipped_tasks = [], set()
    answered_tasks = set()
    for (task, _), row in sorted(latest.items()):
        answer = parse_answer(row)
        if answer is None:
            skipped_tasks.add(task)
        else:
            answers.append(answer)
            answered_tasks.add(task)
    return answers, len(skipped_tasks - answered_tasks)


@dataclass
class Resolution:
    identities: pa.Table
    attributes: pa.Table
    report: dict = field(default_factory=dict)
    state: LinkState | None = None


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _agreement(items: dict, *, exclude=("unsure",)) -> dict:
    """Mean share of agreeing annotator pairs over items answered by at least two annotators."""
    shares, disagreements = [], 0
    for votes in items.values():
        labels = [v for v in votes.values() if v not in exclude]
        if len(labels) < 2:
            continue
        pairs = list(itertools.combinations(labels, 2))
        share = sum(a == b for a, b in pairs) / len(pairs)
        shares.append(share)
        disagreements += share < 1.0
    return {
        "items": len(shares),
        "mean_pairwise_agreement": round(sum(shares) / len(shares), 4) if shares else None,
        "items_with_disagreement": disagreements,
    }


@dataclass
class LinkState:
    """What the answers say about pairs and groups, for the round planner.

    ``decisions``: pair -> linked / pending / separated / disputed; ``votes``: pair -> ("same"
    votes, "different" votes) from link tasks; ``groups``: root -> members (all answered
    tracklets); ``held``: root -> reason; ``chains``: root -> the tracklets of the first
    conflict's chain (the pair's ends and the links between them); ``queried``: tracklets that
    were the query of an answered task.
    """

    decisions: dict[tuple[str, str], str]
    votes: dict[tuple[str, str], tuple[int, int]]
    groups: dict[str, list[str]]
    held: dict[str, str]
    chains: dict[str, list[str]]
    queried: set[str]
    voters: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    against: dict[tuple[str, str], set[tuple[str, str]]] = field(default_factory=dict)  # "different" (task, annotator)
    fit: PairPosteriors | None = None  # link_rule "posterior": P(same) per pair and what it came from
    separate_at: float = 0.9  # link_rule "posterior": P(different) at which a pair is separated
    link_at: float = 0.995  # link_rule "posterior": P(same) at which a pair links


def _chain(links: dict[str, set[str]], a: str, b: str) -> list[str]:
    """The shortest path of linked tracklets from a to b (both ends included)."""
    previous = {a: None}
    frontier = [a]
    while frontier and b not in previous:
        nxt = []
        for x in frontier:
            for y in sorted(links.get(x, ())):
                if y not in previous:
                    previous[y] = x
                    nxt.append(y)
        frontier = nxt
    path, x = [], b
    while x is not None:
        path.append(x)
        x = previous.get(x)
    return path[::-1]


def resolve(
    annotations: pa.Table,
    tracklets: pa.Table,
    *,
    timeline: Timeline | None = None,
    min_same_votes: int = 1,
    link_rule: str = "votes",
    scores: dict[tuple[str, str], float] | None = None,
    neighbour_scores: dict[tuple[str, str], float] | None = None,
    posterior_link: float = 0.995,
    posterior_separate: float = 0.9,
) -> Resolution:
    """Identities and attributes from the answers. ``link_rule`` "votes" decides a pair by its vote
    counts (``min_same_votes``); "posterior" by P(same) from the candidate ``scores`` (pair -> the
    ranker's score), the ``neighbour_scores`` (two pieces of one video -> their similarity) and the
    answers (``posterior.fit_posteriors``): linked at ``posterior_link`` or more, separated when
    P(different) is ``posterior_separate`` or more, asked again in between."""
    if link_rule not in LINK_RULES:
        raise ValueError(f"link_rule must be one of {', '.join(LINK_RULES)}, not {link_rule!r}")
    timeline = timeline or Timeline()
    answers, skipped = latest_answers(annotations)
    info = {
        r["tracklet_id"]: r
        for r in tracklets.select(["tracklet_id", "video_id", "camera_id", "start_frame", "end_frame"]).to_pylist()
    }

    def impossible(a: str, b: str) -> bool:
        ia, ib = info.get(a), info.get(b)
        return (
            ia is not None and ib is not None and ia["camera_id"] == ib["camera_id"] and timeline.seen_together(ia, ib)
        )

    # Votes per pair, one per task and annotator: a pair asked again in a later round (or from its
    # other side) is a second look, which is what confirms a lone answer.
    pair_votes: dict[tuple[str, str], dict[tuple[str, str], str]] = defaultdict(dict)
    touched: set[str] = set()
    rejected: list[str] = []
    adjudications = []
    self_adjudicated: set[str] = set()
    for answer in answers:
        touched.add(answer.query)
        rejected.extend(answer.rejected)
        links = {}
        for candidate, label in answer.links.items():
            if label == "same" and impossible(answer.query, candidate):
                rejected.append(
                    f"task {answer.task_key}: {answer.annotator} answered 'same' for {answer.query} and {candidate}, "
                    f"two tracklets of camera {info[candidate]['camera_id']} at the same time: not counted"
                )
                label = "different"  # what one camera at one time proves
            links[candidate] = label
            if label != "unsure":
                touched.add(candidate)
        if answer.kind == "adjudicate":
            adjudications.append((answer, links))
            continue
        for candidate, label in links.items():
            if label != "unsure":
                pair_votes[_pair(answer.query, candidate)][(answer.task_key, answer.annotator)] = label
    # An adjudication answered by one person alone who also answered its chain does not overrule:
    # they contradicted themselves. It is one more look at the query's pairs, and what still
    # contradicts is cut (below), never merged. Someone new, or the majority of several, overrules.
    per_task: dict[str, list] = defaultdict(list)
    for answer, links in adjudications:
        per_task[answer.task_key].append((answer, links))
    adjudications = []
    for items in per_task.values():
        (answer, links), *rest = items
        if rest or answer.annotator not in answer.answered_chain:
            adjudications.extend(items)
            continue
        self_adjudicated.add(answer.query)
        for candidate, label in links.items():
            if label != "unsure":
                pair_votes[_pair(answer.query, candidate)][(answer.task_key, answer.annotator)] = label
    decisions: dict[tuple[str, str], str] = {}
    votes: dict[tuple[str, str], tuple[int, int]] = {}
    for pair, pv in sorted(pair_votes.items()):
        counts = Counter(pv.values())
        votes[pair] = (counts["same"], counts["different"])
    fit = None
    if link_rule == "posterior":
        fit = fit_posteriors(pair_votes, scores, neighbour_scores)
        for pair in votes:
            p_same = fit.same[pair]
            if p_same >= posterior_link:
                decisions[pair] = "linked"
            elif 1.0 - p_same >= posterior_separate and fit.evidence[pair] < 0:
                # Separated by the answers, never by the score alone: a tie is asked again.
                decisions[pair] = "separated"
            else:
                decisions[pair] = "pending" if p_same >= 0.5 else "disputed"
        confirmed = _confirm_by_agreement(
            decisions,
            {p: max(fit.evidence[p], 0.01) for p in votes},
            lambda across: sigmoid(fit.cut_log_odds(across)) >= posterior_link,
        )
    else:
        for pair, (same, different) in votes.items():
            if same > different:
                decisions[pair] = "linked" if same >= min_same_votes else "pending"
            elif different > same:
                decisions[pair] = "separated"
            else:
                decisions[pair] = "disputed"
        confirmed = (
            _confirm_by_agreement(
                decisions,
                {p: v[0] for p, v in votes.items()},
                lambda across: sum(votes[p][0] for p in across) >= min_same_votes,
            )
            if min_same_votes > 1
            else 0
        )
    # Adjudications overrule, the latest last: per task the majority of its adjudicators per candidate.
    by_task: dict[str, list] = defaultdict(list)
    for answer, links in adjudications:
        by_task[answer.task_key].append((answer, links))
    for _key, items in sorted(by_task.items(), key=lambda kv: max(str(a.updated_at) for a, _ in kv[1])):
        query = items[0][0].query
        tally: dict[str, Counter] = defaultdict(Counter)
        for _answer, links in items:
            for candidate, label in links.items():
                tally[candidate][label] += 1
        same = {query}
        different = set()
        for candidate, counts in tally.items():
            if counts["same"] > counts["different"] + counts["unsure"]:
                same.add(candidate)
            elif counts["different"] > counts["same"] + counts["unsure"]:
                different.add(candidate)
        for a, b in itertools.combinations(sorted(same), 2):
            decisions[_pair(a, b)] = "linked"
        for a in same:
            for b in different:
                decisions[_pair(a, b)] = "separated"
    if fit is None:

        def link_weight(p):
            return max(votes.get(p, (0, 0))[0] - votes.get(p, (0, 0))[1], 1)

        def verdict(across):
            same = sum(votes[p][0] for p in across)
            different = sum(votes[p][1] for p in across)
            outcome = "cut" if different >= same else "kept" if same - different >= min_same_votes else "asked again"
            return outcome, f"{same} 'same' / {different} 'different' votes"

    else:

        def link_weight(p):
            return max(fit.log_odds.get(p, 0.0), 0.01)

        def verdict(across):
            if not across:
                return "cut", "no answers"
            p_same = sigmoid(fit.cut_log_odds(across))
            outcome = "kept" if p_same >= posterior_link else "cut" if p_same < 0.5 else "asked again"
            return outcome, f"P(same) {p_same:.4f}"

    cuts = _cut_self_contradictions(decisions, votes, touched, self_adjudicated, impossible, link_weight, verdict)
    linked = [p for p, d in decisions.items() if d == "linked"]
    separated = [p for p, d in decisions.items() if d == "separated"]
    disputed = [p for p, d in decisions.items() if d == "disputed"]
    pending = [p for p, d in decisions.items() if d == "pending"]
    uf = UnionFind()
    for t in touched:
        uf.find(t)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for a, b in linked:
        uf.union(a, b)
        neighbours[a].add(b)
        neighbours[b].add(a)
    groups = uf.groups()
    conflicts = []
    held: dict[str, str] = {}
    chains: dict[str, list[str]] = {}
    for a, b in sorted(separated):
        if uf.find(a) == uf.find(b):
            root = uf.find(a)
            chain = _chain(neighbours, a, b)
            conflicts.append(
                {
                    "kind": "linked_but_different",
                    "tracklets": [a, b],
                    "component": groups[root],
                    "chain": chain,
                    "detail": f"{a} and {b} were judged different but same-links join them ({' = '.join(chain)})",
                }
            )
            held.setdefault(root, f"contradiction: {a} != {b} inside one linked group")
            chains.setdefault(root, chain)
    for root, members in groups.items():
        for a, b in itertools.combinations(members, 2):
            ia, ib = info.get(a), info.get(b)
            if ia is None or ib is None or ia["camera_id"] != ib["camera_id"]:
                continue
            if timeline.seen_together(ia, ib):
                chain = _chain(neighbours, a, b)
                conflicts.append(
                    {
                        "kind": "same_camera_same_time",
                        "tracklets": [a, b],
                        "component": members,
                        "chain": chain,
                        "detail": f"{a} and {b} are both in camera {ia['camera_id']} at the same time "
                        f"({' = '.join(chain)})",
                    }
                )
                held.setdefault(root, f"contradiction: {a} and {b} overlap in time in camera {ia['camera_id']}")
                chains.setdefault(root, chain)
    for a, b in disputed:
        conflicts.append(
            {
                "kind": "annotators_disagree",
                "tracklets": [a, b],
                "component": None,
                "detail": f"as many 'same' as 'different' votes for {a} and {b}: not linked"
                if fit is None
                else f"P(same) {fit.same.get((a, b), 0.5):.4f} for {a} and {b} "
                f"({votes.get((a, b), (0, 0))[0]} 'same' / {votes.get((a, b), (0, 0))[1]} 'different'): "
                "neither linked nor separated",
            }
        )
    voters = {pair: {annotator for _task, annotator in pv} for pair, pv in pair_votes.items()}
    against = {pair: {key for key, label in pv.items() if label == "different"} for pair, pv in pair_votes.items()}
    state = LinkState(
        decisions,
        votes,
        groups,
        held,
        chains,
        {a.query for a in answers},
        voters,
        against,
        fit,
        posterior_separate,
        posterior_link,
    )

    identity_rows = {"tracklet_id": [], "identity_id": [], "source": [], "status": [], "reason": []}
    identity_of: dict[str, str] = {}
    for root, members in sorted(groups.items()):
        held_reason = held.get(root)
        identity = ("held-" if held_reason else "id-") + root
        for member in members:
            identity_rows["tracklet_id"].append(member)
            identity_rows["identity_id"].append(identity)
            identity_rows["source"].append("annotation")
            identity_rows["status"].append("held_out" if held_reason else "resolved")
            identity_rows["reason"].append(held_reason)
            if not held_reason:
                identity_of[member] = identity

    # Attributes: per tracklet from its own tasks, per identity pooled over its tracklets.
    per_subject: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    attribute_answers: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for answer in answers:
        subjects = [("tracklet", answer.query)]
        if answer.query in identity_of:
            subjects.append(("identity", identity_of[answer.query]))
        for attribute, values in answer.attributes.items():
            for level, subject in subjects:
                per_subject[(level, subject, attribute)].update(values)
                totals[(level, subject, attribute)] += 1
            attribute_answers[(answer.query, attribute)][answer.annotator] = "|".join(values)
    attr_rows = {"level": [], "subject_id": [], "attribute": [], "value": [], "votes": [], "total": [], "source": []}
    disagreements = Counter()
    for (level, subject, attribute), counts in sorted(per_subject.items()):
        if level == "tracklet" and attribute != "carrying" and attribute != "quality" and len(counts) > 1:
            disagreements[attribute] += 1
        for value, votes in sorted(counts.items()):
            attr_rows["level"].append(level)
            attr_rows["subject_id"].append(subject)
            attr_rows["attribute"].append(attribute)
            attr_rows["value"].append(value)
            attr_rows["votes"].append(votes)
            attr_rows["total"].append(totals[(level, subject, attribute)])
            attr_rows["source"].append("annotation")

    identities = sum(1 for root in groups if root not in held)
    report = {
        "answers": len(answers),
        "skipped_tasks": skipped,
        "pairs": {"linked": len(linked), "separated": len(separated), "disputed": len(disputed)}
        | ({"pending": len(pending)} if pending else {})
        | ({"linked_by_agreement": confirmed} if confirmed else {})
        | ({"cut": sum(len(c["links"]) for c in cuts if c["outcome"] == "cut")} if cuts else {}),
        "identities": identities,
        "resolved_tracklets": len(identity_of),
        "held_out_tracklets": sum(len(groups[r]) for r in held),
        "conflicts": conflicts,
        "conflict_counts": dict(Counter(c["kind"] for c in conflicts)),
        "cuts": cuts,
        "agreement": {"links": _agreement(pair_votes), "attributes": _agreement(attribute_answers, exclude=())},
        "attribute_disagreements": dict(disagreements),
        "rejected_answers": rejected,
    }
    if fit is not None:
        report["posterior"] = {
            "error_rates": fit.error_rates,
            "calibration": {kind: {"intercept": a, "slope": b} for kind, (a, b) in fit.calibration.items()},
        }
    return Resolution(pa.table(identity_rows), pa.table(attr_rows), report, state)


def _phase_cuts(nodes: list[str], weight: dict) -> list[tuple[float, set[str]]]:
    """Stoer-Wagner on a connected weighted graph: the cut of each phase (its weight and one
    side), in order; the lightest cut of the graph is among them."""
    adj: dict[str, dict[str, int]] = {x: {} for x in nodes}
    for (a, b), w in weight.items():
        adj[a][b] = adj[a].get(b, 0) + w
        adj[b][a] = adj[b].get(a, 0) + w
    merged = {x: {x} for x in nodes}
    phases = []
    live = list(nodes)
    while len(live) > 1:
        order, conn = [live[0]], {x: adj[live[0]].get(x, 0) for x in live[1:]}
        while conn:
            nxt = max(sorted(conn), key=lambda x: conn[x])
            order.append(nxt)
            cut = conn.pop(nxt)
            for y, w in adj[nxt].items():
                if y in conn:
                    conn[y] += w
        s, t = order[-2], order[-1]
        phases.append((cut, set(merged[t])))
        # Merge t into s.
        merged[s] |= merged.pop(t)
        for y, w in adj.pop(t).items():
            if y == s:
                continue
            adj[y].pop(t, None)
            adj[s][y] = adj[s].get(y, 0) + w
            adj[y][s] = adj[s][y]
        adj[s].pop(t, None)
        live.remove(t)
    return phases


# Sets of up to this many tracklets have every cut tried before they are confirmed (2^(n-1) - 1
# of them), not only Stoer-Wagner's phase cuts: those hold the lightest cut by weight, but under
# the posterior rule a cut's strength also depends on the prior of its likeliest pair, so a cut
# heavier in evidence across low-scoring pairs can be the weak one.
EXACT_CUTS_UP_TO = 12


def _weak_cuts(nodes: list[str], weight: dict, strong_enough) -> list[tuple[float, set[str]]]:
    """Every cut of ``nodes`` (its weight and one side) whose pairs across are not ``strong_enough``."""
    weak = []
    first, rest = nodes[0], nodes[1:]
    for mask in range(2 ** len(rest) - 1):
        side = {first} | {x for i, x in enumerate(rest) if mask >> i & 1}
        across = [p for p in weight if (p[0] in side) != (p[1] in side)]
        if not strong_enough(across):
            weak.append((sum(weight[p] for p in across), side))
    return weak


def _confirm_by_agreement(decisions: dict, weights: dict, strong_enough) -> int:
    """Link pending pairs that the other answers confirm: in a set of tracklets joined by leading
    "same" answers in which every cut is ``strong_enough`` (given the pairs across it), merging two
    people would take as many wrong answers as one pair needs to link. ``weights``: pair -> its
    "same" votes (votes rule: a cut needs ``min_same_votes`` of them) or its answers' log
    likelihood ratio (posterior rule: a cut needs the summed evidence of its pairs on the prior of
    its likeliest pair to reach ``posterior_link``, the one question "are the two sides one
    person?"). The cuts tried are Stoer-Wagner's phase cuts by ``weights``, which hold the
    lightest. So the mutual answers of a first round (A-B asked from both sides) and closed
    triangles (A=B, B=C, A=C) confirm each other. A set with a weak cut is split at the lightest
    weak one and each side tried again; the pairs across the cut stay pending (asked again).
    Returns the pairs linked so."""
    leading = [p for p, d in decisions.items() if d in ("linked", "pending")]
    uf = UnionFind()
    for a, b in leading:
        uf.union(a, b)
    comps: dict[str, set[str]] = defaultdict(set)
    for a, b in leading:
        comps[uf.find(a)].update((a, b))
    stack = [members for members in comps.values() if len(members) >= 2]
    linked = 0
    while stack:
        members = stack.pop()
        weight = {p: weights[p] for p in leading if p[0] in members and p[1] in members}
        # Only connected sets: a side of a cut may fall apart into pieces.
        part = UnionFind()
        for a, b in weight:
            part.union(a, b)
        pieces: dict[str, set[str]] = defaultdict(set)
        for x in members:
            pieces[part.find(x)].add(x)
        if len(pieces) > 1:
            stack.extend(p for p in pieces.values() if len(p) >= 2)
            continue
        weak = [
            (cut, side)
            for cut, side in _phase_cuts(sorted(members), weight)
            if not strong_enough([p for p in weight if (p[0] in side) != (p[1] in side)])
        ]
        if not weak and len(members) <= EXACT_CUTS_UP_TO:
            weak = _weak_cuts(sorted(members), weight, strong_enough)
        if not weak:
            for p in weight:
                if decisions[p] == "pending":
                    decisions[p] = "linked"
                    linked += 1
            continue
        _cut, side = min(weak, key=lambda c: c[0])
        for half in (side, members - side):
            if len(half) >= 2:
                stack.append(half)
    return linked


def _st_cut(weight: dict[tuple[str, str], float], s: str, t: str) -> tuple[float, set[str]]:
    """Minimum s-t cut of an undirected weighted graph (Edmonds-Karp): its weight and s's side."""
    cap: dict[str, dict[str, float]] = defaultdict(dict)
    for (a, b), w in weight.items():
        cap[a][b] = cap[a].get(b, 0) + w
        cap[b][a] = cap[b].get(a, 0) + w
    flow = 0.0
    while True:
        previous = {s: None}
        frontier = [s]
        while frontier and t not in previous:
            nxt = []
            for x in frontier:
                for y, c in sorted(cap[x].items()):
                    if c > 0 and y not in previous:
                        previous[y] = x
                        nxt.append(y)
            frontier = nxt
        if t not in previous:
            return flow, set(previous)
        path, y = [], t
        while previous[y] is not None:
            path.append((previous[y], y))
            y = previous[y]
        push = min(cap[x][y] for x, y in path)
        for x, y in path:
            cap[x][y] -= push
            cap[y][x] = cap[y].get(x, 0) + push
        flow += push


def _cut_self_contradictions(
    decisions: dict, votes: dict, touched: set[str], queries: set[str], impossible, link_weight, verdict
) -> list:
    """Settle the contradictions of groups whose adjudication came from the very annotator of the
    chain (``queries``: the queries of such adjudications) by the votes, never by one more answer.

    Their adjudication counted as votes. For a "different" pair (or two tracklets of one camera at
    one time) still joined by links, take the lightest cut between its two ends (minimum s-t cut,
    each link weighing ``link_weight``: its "same" minus "different" votes, or its posterior
    log-odds) and weigh all the answers on pairs across it (``verdict``: "cut", "kept" or "asked
    again", and a line saying why): when "different" is as strong as "same" (or one camera at one
    time is across), the links on the cut become separated; when "same" is as strong as one pair
    needs to link (``min_same_votes`` ahead, or ``posterior_link``), the "different" pairs across
    are outvoted and the group stays one; in between, the links on the cut become pending and the
    pairs across disputed, so both are asked again (up to ``max_asks``; a pair still unsettled
    then stays unlinked: the cut). Someone who contradicted themselves cannot say which answer was
    wrong; more looks can. Returns one record per cut."""
    if not queries:
        return []
    uf = UnionFind()
    for t in touched:
        uf.find(t)
    for p, d in decisions.items():
        if d == "linked":
            uf.union(*p)
    members: dict[str, set[str]] = defaultdict(set)
    for t in touched:
        members[uf.find(t)].add(t)
    cuts = []
    for root in sorted({uf.find(q) for q in queries if q in touched}):
        group = members[root]
        while True:
            weight = {p: link_weight(p) for p, d in decisions.items() if d == "linked" and p[0] in group}
            part = UnionFind()
            for a, b in weight:
                part.union(a, b)
            against = [p for p, d in decisions.items() if d == "separated" and p[0] in group and p[1] in group]
            against += [p for p in itertools.combinations(sorted(group), 2) if impossible(*p)]
            joined = [p for p in sorted(set(against)) if part.find(p[0]) == part.find(p[1])]
            if not joined:
                break
            a, b = joined[0]
            value, side = _st_cut(weight, a, b)
            component = {x for x in group if part.find(x) == part.find(a)}
            across = [p for p in votes if p[0] in component and p[1] in component and (p[0] in side) != (p[1] in side)]
            same = sum(votes[p][0] for p in across)
            different = sum(votes[p][1] for p in across)
            links = sorted(p for p in weight if (p[0] in side) != (p[1] in side))
            proven = any(impossible(x, y) for x in component & side for y in component - side)
            outcome, why = verdict(across)
            if proven or outcome == "cut":
                outcome = "cut"
                for p in links:
                    decisions[p] = "separated"
            elif outcome == "kept":
                for p in across:
                    if decisions[p] == "separated":
                        decisions[p] = "linked"
            else:
                outcome = "asked again"
                for p in links:
                    decisions[p] = "pending"
                for p in across:
                    if decisions[p] == "separated":
                        decisions[p] = "disputed"
            cuts.append(
                {
                    "tracklets": [a, b],
                    "links": [list(p) for p in links],
                    "outcome": outcome,
                    "same_votes": same,
                    "different_votes": different,
                    "detail": f"{a} and {b} cannot be one person and the chain's own annotator adjudicated: "
                    f"{len(links)} link(s) on the lightest cut, {why} across it: {outcome}",
                }
            )
    return cuts


def identity_accuracy(identities: pa.Table, truth: dict[str, str]) -> dict:
    """Pairwise precision and recall of the resolved identities against ground truth.

    Over pairs of resolved tracklets that both have a true identity: precision = linked pairs
    that are truly one person / linked pairs; recall = truly-same pairs that are linked / truly-same pairs.
    """
    rows = [r for r in identities.to_pylist() if r["status"] == "resolved" and r["tracklet_id"] in truth]
    by_identity: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_identity[r["identity_id"]].append(r["tracklet_id"])
    linked = true_linked = 0
    for members in by_identity.values():
        for a, b in itertools.combinations(members, 2):
            linked += 1
            true_linked += truth[a] == truth[b]
    by_truth: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_truth[truth[r["tracklet_id"]]].append(r["identity_id"])
    true_pairs = found = 0
    for ids in by_truth.values():
        for a, b in itertools.combinations(ids, 2):
            true_pairs += 1
            found += a == b
    return {
        "tracklets": len(rows),
        "linked_pairs": linked,
        "pair_precision": true_linked / linked if linked else None,
        "pair_recall": found / true_pairs if true_pairs else None,
    }
