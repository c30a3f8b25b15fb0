"""P(same) of each answered tracklet pair from the candidate score and the answers (``link_rule = "posterior"``).

A one-coin model fitted by expectation-maximisation on the answers themselves, never on a known
error rate: each annotator answers a pair wrongly with probability ``e`` (their own, estimated
from how their answers agree with the rest and with the scores), and a pair is one person a
priori with ``sigmoid(a + b * score)``, the ranker's score calibrated on the same answers
(weighted logistic regression on the current posteriors). Each iteration computes every pair's
posterior from its votes, then refits ``e`` per annotator and the calibration from those
posteriors.

Pairs of two kinds are scored, and each kind gets its own calibration: cross-camera candidates
(the ranker's score) and neighbours, two pieces of one video shown to each other as maybe one
walk (the same similarity, scored by the candidates stage). One camera's lighting and pose make
two people look more alike than two cameras make one person, and most neighbour pairs are two
people, so a score means a different P(same) for each kind.

Robust when few answers exist: each error rate starts from ``ERROR_PSEUDO_ANSWERS`` pretend
answers at ``ERROR_PRIOR`` (a conservative 20 % wrong), so a handful of answers cannot make anyone
look infallible; the calibration's slope is ridge-penalised towards a flat prior and the prior
is kept inside [``PRIOR_FLOOR``, ``PRIOR_CEILING``], so no score alone links or separates a pair
and a low-scoring true match can still be linked by enough "same" answers. The floor is 0.01,
not 0.05: with about ten two-person neighbour pairs for each one-person pair, each shown from
both sides in round 1, two wrong "same" answers on one pair at 2 % error happened about once in
ten replayed campaigns, and on a 0.05 prior they link (P 0.991); on 0.01 they do not, while three
"same" answers at 2 % error still link a pair at the floor (docs/benchmarks.md). A pair with no
score (an adjudication's group member that no ranking showed) gets the flat prior 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ERROR_PRIOR = 0.2
ERROR_PSEUDO_ANSWERS = 10.0
ERROR_BOUNDS = (0.005, 0.45)
PRIOR_FLOOR, PRIOR_CEILING = 0.01, 0.95
SLOPE_RIDGE = 1.0
ITERATIONS = 25


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


@dataclass
class PairPosteriors:
    """What the fit says: ``same`` pair -> P(same | score, answers); ``log_odds`` pair -> its log-odds;
    ``evidence`` pair -> the answers' log likelihood ratio alone (without the prior); ``prior``
    pair -> P(same | score); ``error_rates`` annotator -> estimated share of wrong answers;
    ``calibration`` kind of pair ("candidate", "neighbour") -> (a, b) of its prior's logistic curve."""

    same: dict
    log_odds: dict
    evidence: dict
    prior: dict
    error_rates: dict
    calibration: dict[str, tuple[float, float]]

    def cut_log_odds(self, pairs) -> float:
        """Log-odds that the two sides of a cut are one person, ``pairs`` the answered pairs across
        it: one question asked through each of them, so their answers' evidence adds up on one
        prior, that of the likeliest pair (pairs by themselves would count a prior each)."""
        pairs = list(pairs)
        if not pairs:
            return -math.inf
        return sum(self.evidence[p] for p in pairs) + max(_logit(self.prior[p]) for p in pairs)


def _fit_calibration(points: list[tuple[float, float]], a: float, b: float) -> tuple[float, float]:
    """Weighted logistic regression of the posterior q on the score (Newton steps), the slope
    ridge-penalised on the standardised score (so the penalty does not depend on the score's scale)."""
    if len(points) < 2:
        return 0.0, 0.0
    mean = sum(s for s, _ in points) / len(points)
    spread = math.sqrt(sum((s - mean) ** 2 for s, _ in points) / len(points)) or 1.0
    # Work on z = (s - mean) / spread: a + b s = (a + b mean) + (b spread) z.
    a, b = a + b * mean, b * spread
    points = [((s - mean) / spread, q) for s, q in points]
    for _ in range(10):
        ga = gb = 0.0
        haa = hab = hbb = 0.0
        for s, q in points:
            p = sigmoid(a + b * s)
            r = p - q
            w = p * (1 - p)
            ga += r
            gb += r * s
            haa += w
            hab += w * s
            hbb += w * s * s
        gb += SLOPE_RIDGE * b
        hbb += SLOPE_RIDGE
        haa += 1e-6
        det = haa * hbb - hab * hab
        if det <= 1e-12:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) + abs(db) < 1e-6:
            break
    return a - b * mean / spread, b / spread


def _evaluate(pair_votes: dict, scored: dict, error: dict, curves: dict) -> tuple[dict, dict, dict]:
    """Each pair's prior, its answers' log likelihood ratio and its posterior log-odds. ``scored``:
    pair -> (kind, score); ``curves``: kind -> (a, b)."""
    weight = {x: math.log((1 - e) / e) for x, e in error.items()}
    prior, evidence, log_odds = {}, {}, {}
    for p, pv in pair_votes.items():
        if p in scored:
            kind, score = scored[p]
            a, b = curves[kind]
            prior[p] = min(max(sigmoid(a + b * score), PRIOR_FLOOR), PRIOR_CEILING)
        else:
            prior[p] = 0.5
        evidence[p] = sum(weight[x] if label == "same" else -weight[x] for (_task, x), label in pv.items())
        log_odds[p] = _logit(prior[p]) + evidence[p]
    return prior, evidence, log_odds


KINDS = ("candidate", "neighbour")


def fit_posteriors(pair_votes: dict, scores: dict | None, neighbour_scores: dict | None = None) -> PairPosteriors:
    """``pair_votes``: pair -> {(task, annotator): "same" | "different"}; ``scores``: pair -> the
    candidate ranker's score (``rounds.candidate_scores``); ``neighbour_scores``: pair -> the
    similarity of two neighbours (``candidates.neighbour_scores``), calibrated apart.
    Deterministic for given inputs."""
    pair_votes = dict(sorted(pair_votes.items()))
    scored = {p: ("neighbour", float(s)) for p, s in (neighbour_scores or {}).items() if p in pair_votes}
    scored.update({p: ("candidate", float(s)) for p, s in (scores or {}).items() if p in pair_votes})
    by_kind = {kind: [p for p in pair_votes if scored.get(p, ("",))[0] == kind] for kind in KINDS}
    annotators = sorted({annotator for pv in pair_votes.values() for _task, annotator in pv})
    error = dict.fromkeys(annotators, ERROR_PRIOR)
    curves = dict.fromkeys(KINDS, (0.0, 0.0))
    for _ in range(ITERATIONS):
        _prior, _evidence, log_odds = _evaluate(pair_votes, scored, error, curves)
        same = {p: sigmoid(v) for p, v in log_odds.items()}
        wrong = dict.fromkeys(annotators, ERROR_PRIOR * ERROR_PSEUDO_ANSWERS)
        total = dict.fromkeys(annotators, ERROR_PSEUDO_ANSWERS)
        for p, pv in pair_votes.items():
            for (_task, x), label in pv.items():
                wrong[x] += (1 - same[p]) if label == "same" else same[p]
                total[x] += 1
        new_error = {x: min(max(wrong[x] / total[x], ERROR_BOUNDS[0]), ERROR_BOUNDS[1]) for x in annotators}
        new_curves = {
            kind: _fit_calibration([(scored[p][1], same[p]) for p in by_kind[kind]], *curves[kind]) for kind in KINDS
        }
        moved = max(
            [abs(new_error[x] - error[x]) for x in annotators]
            + [abs(n - o) for kind in KINDS for n, o in zip(new_curves[kind], curves[kind])]
        )
        error, curves = new_error, new_curves
        if moved < 1e-5:
            break
    prior, evidence, log_odds = _evaluate(pair_votes, scored, error, curves)
    return PairPosteriors(
        same={p: sigmoid(v) for p, v in log_odds.items()},
        log_odds=log_odds,
        evidence=evidence,
        prior=prior,
        error_rates={x: round(e, 4) for x, e in error.items()},
        calibration={kind: (round(a, 4), round(b, 4)) for kind, (a, b) in curves.items()},
    )
