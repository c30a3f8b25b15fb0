"""Rounds of a campaign: after each pull, plan the next tasks from what the answers already say.

The answers so far are groups (tracklets joined by "same" links, union-find in resolve.py) with
"different" carried between groups: when any pair across two groups is separated, the groups
are. A round asks only what is neither implied nor given:

- **adjudication**: a group that holds a contradiction (A=B, B=C, A!=C; two tracklets of one
  camera at the same time) gets one task that shows the chain (then the group's other members,
  up to 2K candidates); its members stay held out until it is answered. With several annotators it goes to one who did not answer the chain's links.
- **second looks**: a pair the answers leave unsettled (pending or disputed: under the posterior
  rule P(same) between the two thresholds, under the votes rule fewer "same" votes than
  ``min_same_votes``, or a tie) is asked again, packed densely, from its other side where that
  costs no extra task;
- **open group pairs**: two groups that the candidates manifest connects (a member of one ranks
  a member of the other in its top K), that are neither one group nor separated and that one
  camera at one time does not rule out, get their best-scoring member pair asked (never a pair
  asked before, A-B being B-A);
- **audit**, once nothing above is left: a group seen in one camera only, which would become a
  distractor, is shown beside the most similar groups seen in two or more cameras, and beside
  those of its members' neighbours in their own video (pieces of one walk, ``Timeline.neighbours``)
  ("same" on one links it; "different" on all of them audits it); the pairs are packed like link pairs, and a
  pair of groups that answers already judged different twice (``AUDIT_LOOKS``; under the
  posterior link rule: whose P(different) reaches ``posterior_link``, the standard of a link,
  since a wrong "different" leaks a benchmark person into the distractors) is not asked. An
  audit is asked again while its answers fall short of that; a group whose audits were asked
  ``max_asks`` times and still fall short is held out (``Plan.undecided_audits``). A group that
  the answers already make one person with a benchmark group it cannot join (one camera sees a
  member of each at the same time, e.g. a tracker's second box on one walker) is held out without
  an audit (``Plan.twins``): asking again cannot undo the time conflict, and as a distractor it
  would be its own benchmark person's impostor.

A plan is empty when every open group's plausible candidates are decided: the campaign is closed.
Pairs are packed into tasks of up to K candidates around the tracklet that most of them share.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from grewkit.annotate.posterior import sigmoid
from grewkit.annotate.resolve import LinkState, _pair
from grewkit.annotate.timeline import Timeline

# What the note above the candidates says on the labelling page.
ADJUDICATION_NOTE = (
    "Adjudication: answers say {links}, yet {a} and {b} cannot be one person "
    "(judged different, or one camera at one time). Mark each candidate: is it the query person?"
)
AUDIT_NOTE = (
    "Audit before the distractor set: people seen in one camera only, beside the most similar "
    "people seen in several cameras. Is any candidate the query person? Mark 'different' on all "
    "that are not."
)


@dataclass(frozen=True)
class PlannedTask:
    key: str
    kind: str  # link, adjudicate, audit
    query: str
    candidates: tuple[tuple[str, float], ...]  # (tracklet, score) in the order shown
    note: str = ""
    avoid_annotators: tuple[str, ...] = ()  # adjudication: who answered the chain's links


@dataclass
class Plan:
    round: int
    tasks: list[PlannedTask] = field(default_factory=list)
    open_groups: int = 0
    undecided_group_pairs: int = 0
    held_groups: int = 0
    unaudited_groups: int = 0
    unaudited: list = field(default_factory=list)  # tracklets of single-camera groups not audited yet
    audited_by_answers: int = 0  # single-camera groups whose earlier answers already were the audit
    # Tracklets of single-camera groups whose audits were asked the most times and still cannot rule
    # out a benchmark identity: held out, neither distractor nor benchmark (a leak would score a
    # benchmark person's walk as an impostor of their own probe).
    undecided_audits: list = field(default_factory=list)
    # Tracklets of single-camera groups that the answers make one person with a group seen in several
    # cameras, yet cannot join it (one camera sees a member of each at the same time): held out.
    twins: list = field(default_factory=list)
    given_up: dict = field(default_factory=dict)  # why some questions are no longer asked, counted

    @property
    def closed(self) -> bool:
        return not self.tasks

    def summary(self) -> dict:
        kinds = Counter(t.kind for t in self.tasks)
        return {
            "round": self.round,
            "tasks": len(self.tasks),
            "tasks_by_kind": dict(kinds),
            "questions": sum(len(t.candidates) for t in self.tasks),
            "open_groups": self.open_groups,
            "undecided_group_pairs": self.undecided_group_pairs,
            "held_groups": self.held_groups,
            "unaudited_groups": self.unaudited_groups,
            "audited_by_answers": self.audited_by_answers,
            "undecided_audits": len(self.undecided_audits),
            "twins": len(self.twins),
            "given_up": self.given_up,
            "closed": self.closed,
        }


# "Different" answers (task and annotator each) between a single-camera group and a group seen in
# several cameras that make an audit question between them redundant: an audit adds one look to
# the one round 1 gave when one ranked the other, so two looks are what an audited pair of groups
# has at least.
AUDIT_LOOKS = 2


def _judged_apart(state: LinkState, xs: list[str], ys: list[str]) -> bool:
    """Whether the answers already say that groups xs and ys are two people, so an audit question
    between them adds nothing: ``AUDIT_LOOKS`` "different" answers under the votes rule; under the
    posterior rule, P(different) of the one question "are they one person?" asked through every
    answered pair between them (``PairPosteriors.cut_log_odds``) at ``posterior_link`` or more."""
    if state.fit is None:
        return _looks(state, xs, ys) >= AUDIT_LOOKS
    pairs = [p for x in xs for y in ys if (p := _pair(x, y)) in state.fit.same]
    # As sure as a link (``posterior_link``), not as a separation: a wrong "different" here sends a
    # benchmark person's walk to the distractors, as harmful as a wrong link.
    return bool(pairs) and 1.0 - sigmoid(state.fit.cut_log_odds(pairs)) >= state.link_at


def _judged_same(state: LinkState, xs: list[str], ys: list[str], together) -> bool:
    """Whether the answers say that groups xs and ys are one person at the standard of a link: under
    the posterior rule P(same) of the one question asked through every answered pair between them at
    ``posterior_link`` or more; under the votes rule "same" ahead of "different" by ``AUDIT_LOOKS``.
    Pairs that ``together(x, y)`` says one camera sees at one time are left out: their "same"
    answers were taken as "different", which is what the time conflict says, not what was seen."""
    pairs = [p for x in xs for y in ys if (p := _pair(x, y)) in state.votes and not together(x, y)]
    if not pairs:
        return False
    if state.fit is None:
        return sum(state.votes[p][0] - state.votes[p][1] for p in pairs) >= AUDIT_LOOKS
    pairs = [p for p in pairs if p in state.fit.same]
    return bool(pairs) and sigmoid(state.fit.cut_log_odds(pairs)) >= state.link_at


def _asks(asked: Counter, xs: list[str], ys: list[str]) -> int:
    """Times any pair between groups xs and ys was pushed (link, second look or audit)."""
    return sum(asked[_pair(x, y)] for x in xs for y in ys)


def _looks(state: LinkState, xs: list[str], ys: list[str]) -> int:
    """Distinct answers (task, annotator) that judged a member of xs different from a member of ys."""
    seen = set()
    for x in xs:
        for y in ys:
            seen |= state.against.get(_pair(x, y), set())
    return len(seen)


def history(rounds: list[dict], answered: set[str] | None = None) -> tuple[Counter, dict, Counter, set]:
    """What a campaign's rounds asked, for ``plan_round``: (asked, asked_from, adjudicated,
    audited). ``rounds``: each with ``tasks`` as dicts (key, kind, query, candidates as
    [tracklet, score]); ``answered``: keys of answered tasks (audits count once answered; None:
    all)."""
    asked: Counter = Counter()
    asked_from: dict = {}
    adjudicated: Counter = Counter()
    audited: set = set()
    for r in rounds:
        for t in r["tasks"]:
            if t["kind"] == "adjudicate":
                adjudicated["|".join(sorted([t["query"], *(c for c, _ in t["candidates"])]))] += 1
                continue
            if t["kind"] == "audit" and (answered is None or t["key"] in answered):
                audited.update([t["query"], *(c for c, _ in t["candidates"])])
            for c, _ in t["candidates"]:
                pair = _pair(t["query"], c)
                asked[pair] += 1
                asked_from.setdefault(pair, set()).add(t["query"])
    return asked, asked_from, adjudicated, audited


def plan_after(
    rounds: list[dict],
    *,
    state: LinkState,
    scores: dict[tuple[str, str], float],
    info: dict[str, dict],
    timeline: Timeline | None,
    settings,
    answered: set[str] | None = None,
    neighbours: dict[str, list[str]] | None = None,
) -> Plan:
    """The round after ``rounds``: what they asked (``history``) and the annotate ``settings`` (k,
    max_asks, max_adjudications) fed to ``plan_round``, with ``neighbours`` (the neighbours manifest,
    ``candidates.neighbour_lists``). Used by the campaign after each pull and by the offline replay, so
    both plan alike."""
    asked, asked_from, adjudicated, audited = history(rounds, answered)
    return plan_round(
        round_number=rounds[-1]["round"] + 1,
        state=state,
        scores=scores,
        info=info,
        timeline=timeline,
        asked=asked,
        asked_from=asked_from,
        adjudicated=adjudicated,
        audited=audited,
        k=settings.k,
        max_asks=settings.max_asks,
        neighbours=neighbours,
        max_adjudications=settings.max_adjudications,
    )


def candidate_scores(candidates) -> dict[tuple[str, str], float]:
    """Unordered pair -> best score over both directions of the candidates manifest."""
    scores: dict[tuple[str, str], float] = {}
    cols = candidates.select(["query_tracklet_id", "candidate_tracklet_id", "score"]).to_pydict()
    for q, c, s in zip(cols["query_tracklet_id"], cols["candidate_tracklet_id"], cols["score"]):
        pair = _pair(q, c)
        scores[pair] = max(scores.get(pair, float("-inf")), float(s))
    return scores


def _pack(
    pairs: list[tuple[str, str, float]], k: int, prefix: str, kind: str, used: set[str], asked_from: dict | None = None
) -> list[PlannedTask]:
    """Pairs into tasks of at most k candidates, each around the tracklet most of its pairs share
    (fewest tasks); among equals, the one most of whose pairs were not asked from it yet
    (``asked_from``: pair -> queries it was asked from), so a second look sees the other side."""
    left = {(_pair(a, b)): s for a, b, s in pairs}
    asked_from = asked_from or {}
    tasks = []
    while left:
        degree = Counter(x for pair in left for x in pair)
        fresh = Counter(x for pair in left for x in pair if x not in asked_from.get(pair, ()))
        query = min(degree, key=lambda x: (-degree[x], -fresh[x], x))
        mine = sorted(
            ((b if a == query else a, s) for (a, b), s in left.items() if query in (a, b)), key=lambda c: (-c[1], c[0])
        )[:k]
        # No prefix: the bare query tracklet id (round 1's keys).
        base = f"{prefix}-{query}" if prefix else query
        key, n = base, 2
        while key in used:
            key, n = f"{base}.{n}", n + 1
        used.add(key)
        tasks.append(PlannedTask(key, kind, query, tuple(mine)))
        for c, _ in mine:
            del left[_pair(query, c)]
    return tasks


def plan_round(
    *,
    round_number: int,
    state: LinkState,
    scores: dict[tuple[str, str], float],
    info: dict[str, dict],
    timeline: Timeline | None,
    asked: Counter,
    asked_from: dict[tuple[str, str], set[str]],
    adjudicated: Counter,
    audited: set[str],
    k: int,
    max_asks: int,
    max_adjudications: int,
    neighbours: dict[str, list[str]] | None = None,
) -> Plan:
    """The next round's tasks. ``asked``: pair -> times it was pushed; ``asked_from``: pair -> the
    queries it was asked from; ``adjudicated``: an adjudication task's sorted tracklets joined by "|" -> times pushed;
    ``audited``: tracklets of answered audit tasks; ``timeline`` tells which tracklets of one camera
    were seen together (None: their frame spans); ``neighbours``: tracklet -> the pieces of its own
    video that may continue its walk (the neighbours manifest, ``candidates.neighbour_lists``)."""
    timeline = timeline or Timeline()
    plan = Plan(round_number)
    used: set[str] = set()
    member_of = {m: root for root, members in state.groups.items() for m in members}
    # Tracklets no answer touched yet are groups of their own.
    for a, b in scores:
        for x in (a, b):
            if x not in member_of:
                member_of[x] = x
                state.groups.setdefault(x, [x])

    def group(x: str) -> str:
        return member_of[x]

    def together(x: str, y: str) -> bool:
        """One camera sees tracklets x and y at one time: they cannot be one person."""
        ix, iy = info.get(x), info.get(y)
        return bool(ix and iy and ix["camera_id"] == iy["camera_id"] and timeline.seen_together(ix, iy))

    # 1. Contradictions: adjudicate the chain, a bounded number of times.
    held = set(state.held)
    plan.held_groups = len(held)
    for root in sorted(held):
        chain = state.chains.get(root) or state.groups[root]
        # The chain first, then the group's other members: one answer places the whole group
        # (who is the query person, who is not), so a group with several crossing chains needs
        # no adjudication per chain.
        query = chain[0]
        rest = chain[1:] + [m for m in state.groups[root] if m not in chain]
        rest = rest[: max(2 * k, len(chain) - 1)]
        if adjudicated["|".join(sorted([query, *rest]))] >= max_adjudications:
            plan.given_up["contradictions adjudicated the most times and still open"] = (
                plan.given_up.get("contradictions adjudicated the most times and still open", 0) + 1
            )
            continue
        links = " = ".join(chain)
        a, b = chain[0], chain[-1]
        note = ADJUDICATION_NOTE.format(links=links, a=a, b=b)
        key = f"adj{round_number}-{query}"
        used.add(key)
        plan.tasks.append(
            PlannedTask(
                key,
                "adjudicate",
                query,
                tuple((c, scores.get(_pair(query, c), 0.0)) for c in rest),
                note,
                tuple(sorted(set().union(*(state.voters.get(_pair(x, y), set()) for x, y in zip(chain, chain[1:]))))),
            )
        )

    # 2. Second looks at pairs whose answer is not settled.
    again = []
    for pair, decision in sorted(state.decisions.items()):
        if decision not in ("pending", "disputed") or group(pair[0]) in held or group(pair[1]) in held:
            continue
        if together(*pair):
            continue  # one camera at one time has answered it: asking people again cannot change that
        if asked[pair] >= max_asks:
            plan.given_up["pairs asked the most times and still unsettled"] = (
                plan.given_up.get("pairs asked the most times and still unsettled", 0) + 1
            )
            continue
        again.append(pair)
    # 3. Open group pairs, through the candidates manifest.
    best: dict[tuple[str, str], tuple[float, tuple[str, str]]] = {}
    settled: set[tuple[str, str]] = set()
    for pair, decision in state.decisions.items():
        ga, gb = group(pair[0]), group(pair[1])
        if ga != gb and decision in ("separated", "pending", "disputed"):
            settled.add(_pair(ga, gb))  # different carries; unsettled pairs are asked again instead
    pending_groups = {_pair(group(a), group(b)) for a, b in again}

    def compatible(ga: str, gb: str) -> bool:
        return not any(together(x, y) for x in state.groups[ga] for y in state.groups[gb])

    for pair, score in scores.items():
        ga, gb = group(pair[0]), group(pair[1])
        if ga == gb or ga in held or gb in held:
            continue
        gp = _pair(ga, gb)
        if gp in settled or gp in pending_groups or asked[pair]:
            continue
        if gp not in best or score > best[gp][0]:
            best[gp] = (score, pair)
    fresh = []
    for gp, (score, pair) in sorted(best.items()):
        if compatible(*gp):
            fresh.append((pair, score))
    plan.undecided_group_pairs = len(fresh) + len(pending_groups)
    plan.open_groups = len({g for gp in best for g in gp} | {g for gp in pending_groups for g in gp})

    link_pairs = [(a, b, scores.get((a, b), 0.0)) for a, b in again]
    link_pairs += [(a, b, s) for (a, b), s in fresh]
    link_tasks = _pack(link_pairs, k, f"r{round_number}", "link", used, asked_from)
    plan.tasks.extend(link_tasks)

    # 4. Audit single-camera groups once nothing else is open.
    single = [
        root
        for root, members in state.groups.items()
        if root not in held and len({info[m]["camera_id"] for m in members if m in info}) == 1
    ]
    multi = {
        root
        for root, members in state.groups.items()
        if root not in held and len({info[m]["camera_id"] for m in members if m in info}) >= 2
    }
    by_group: dict[str, dict[str, tuple[float, str, str]]] = defaultdict(dict)
    for (a, b), s in scores.items():
        for x, y in ((a, b), (b, a)):
            gx, gy = group(x), group(y)
            if gy in multi and gx != gy:
                old = by_group[gx].get(gy)
                if old is None or s > old[0]:
                    by_group[gx][gy] = (s, x, y)
    # Pieces of one walk in one camera that the tracker cut apart rank no candidate of each other
    # (candidates are never of the query's camera), and a short piece's own candidates often miss
    # its person: so a group's audit also shows the benchmark groups of its members' neighbours
    # in time in their own video (the neighbours manifest), whatever their score.
    near: dict[str, dict[str, tuple[float, str, str]]] = defaultdict(dict)
    if neighbours:
        for root in single:
            for x in state.groups[root]:
                for y in neighbours.get(x, ()):
                    if y not in member_of:
                        continue  # a neighbour that no candidate or answer names is no group here
                    gy = group(y)
                    if gy in multi and gy not in near[root] and compatible(root, gy):
                        near[root][gy] = (scores.get(_pair(x, y), 0.0), x, y)
    # Groups seen in several cameras that a single-camera group has answered pairs with.
    answered_with: dict[str, set[str]] = defaultdict(set)
    for a, b in state.votes:
        for x, y in ((a, b), (b, a)):
            if x in member_of and y in member_of and group(y) in multi and group(x) != group(y):
                answered_with[group(x)].add(group(y))
    # Each single-camera group is audited beside its K most similar multi-camera groups, again
    # after an answered audit while the answers do not yet judge them apart (``_judged_apart``); a
    # pair of groups asked ``max_asks`` times and still not judged apart leaves the group undecided.
    shown = {}
    for root in sorted(single):
        members = state.groups[root]
        if any(_judged_same(state, members, state.groups[gy], together) for gy in sorted(answered_with.get(root, ()))):
            # One person by the answers, two groups by the time conflict that cut them apart.
            plan.twins.extend(members)
            continue
        if not by_group.get(root) and not near.get(root):
            continue
        rows = sorted(by_group[root].values(), key=lambda v: (-v[0], v[2]))[:k]
        shown_groups = {group(v[2]) for v in rows}
        rows += [v for gy, v in sorted(near[root].items()) if gy not in shown_groups]
        missing = [v for v in rows if not _judged_apart(state, members, state.groups[group(v[2])])]
        if not missing:
            if not audited & set(members):
                plan.audited_by_answers += 1
            continue
        if any(_asks(asked, members, state.groups[group(v[2])]) >= max_asks for v in missing):
            plan.undecided_audits.extend(members)
            continue
        shown[root] = missing
    # A group that nothing seen in two cameras resembles has nothing to be shown beside: audited as it is.
    unaudited = sorted(shown)
    plan.unaudited = [m for root in unaudited for m in state.groups[root]]
    plan.unaudited_groups = len(unaudited)
    if not plan.tasks:
        # Each single-camera group beside the most similar multi-camera groups it still needs a
        # look at; the pairs are packed like link pairs, so one benchmark person's task shows all
        # who resemble it.
        # One face per benchmark group (its member most often the best match), so its audits share a task.
        votes = Counter(y for rows in shown.values() for _, _, y in rows)
        face = {}
        for y, _count in sorted(votes.items(), key=lambda v: (-v[1], v[0])):
            face.setdefault(group(y), y)
        pairs = [(x, face[group(y)], score) for rows in shown.values() for score, x, y in rows]
        for task in _pack(pairs, k, f"audit{round_number}", "audit", used):
            plan.tasks.append(
                PlannedTask(
                    task.key,
                    task.kind,
                    task.query,
                    task.candidates,
                    AUDIT_NOTE,
                )
            )
    return plan


def first_round(
    candidates, k: int, *, mode: str = "tracklets", neighbours: dict[str, list[str]] | None = None
) -> list[PlannedTask]:
    """Round 1, keyed by the task's query tracklet id.

    ``mode`` "tracklets": every kept tracklet gets its own task with its top K (the way a campaign
    began before rounds), so each is a query once and a pair both sides rank is seen twice.

    "cover": the same tasks less those that show nothing new: a tracklet's task is left out when
    each of its top K ranks it back (so every pair it would show is shown from the other side),
    as long as those other tasks stay in. Tracklets are tried lowest best score first: a tracklet
    that resembles nothing much is the likeliest to be one camera's person only, for whom one
    answer per pair ("different") is what a link question needs, while a likely match keeps the
    second view from its own side that confirms a "same" at once. Every ranked pair is still shown.

    "pairs": every pair some tracklet ranks in its top K is asked once, the pairs packed into
    tasks of up to K around the tracklet most of them share, so a pair both sides rank is one
    question, not two. The second look a lone answer needs comes in the next rounds for the pairs
    answered "same" (``min_same_votes``), where every pair of an open group is asked through its
    best member pair anyway.

    ``neighbours`` (``Timeline.neighbours``: tracklet -> tracklets of its own video just before or
    after it, never seen with it) are shown after a query's top K in modes "tracklets" and
    "cover": pieces of one walk that the tracker cut apart never rank each other (candidates are
    of other cameras), and a short piece's own candidates often miss its person, which then
    leaks into the distractors. Each such pair is seen from both sides at no extra task.

    Attributes are asked of a task's query: a tracklet that is no query in round 1 gets them at
    the identity level from its group's queried members (every linked pair has its query inside
    the group); an identity of one tracklet that no task queried (a distractor) gets none.
    """
    ranked: dict[str, list[tuple[int, str, float]]] = defaultdict(list)
    cols = candidates.select(["query_tracklet_id", "candidate_tracklet_id", "rank", "score"]).to_pydict()
    for q, c, r, s in zip(cols["query_tracklet_id"], cols["candidate_tracklet_id"], cols["rank"], cols["score"]):
        ranked[q].append((r, c, float(s)))
    top = {q: [(c, s) for _, c, s in sorted(rows)[:k]] for q, rows in sorted(ranked.items())}
    neighbours = neighbours or {}

    def with_neighbours(q: str, rows: list) -> tuple:
        shown = {c for c, _ in rows}
        return tuple(rows) + tuple((n, 0.0) for n in sorted(neighbours.get(q, ())) if n not in shown)

    if mode == "cover":
        shown = {q: {c for c, _ in rows} for q, rows in top.items()}
        live = set(top)
        for q in sorted(top, key=lambda q: (max(s for _, s in top[q]), q)):
            if all(c in live and q in shown[c] for c in shown[q]) and not neighbours.get(q):
                live.discard(q)
        return [PlannedTask(q, "link", q, with_neighbours(q, rows)) for q, rows in top.items() if q in live]
    if mode == "tracklets":
        return [PlannedTask(q, "link", q, with_neighbours(q, rows)) for q, rows in top.items()]
    if mode != "pairs":
        raise ValueError(f"first_round mode must be 'tracklets', 'cover' or 'pairs', not {mode!r}")
    pairs = [(q, c, s) for q, rows in top.items() for c, s in rows]
    best: dict[tuple[str, str], float] = {}
    for a, b, s in pairs:
        best[_pair(a, b)] = max(best.get(_pair(a, b), float("-inf")), s)
    return _pack([(a, b, s) for (a, b), s in sorted(best.items())], k, "", "link", set())
