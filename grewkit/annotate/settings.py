"""The ``[annotate]`` settings section."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting

# How a pair of tracklets is decided from its answers (grewkit.annotate.resolve).
LINK_RULES = ("votes", "posterior")


@dataclass(frozen=True)
class AnnotateSettings:
    campaign: str = setting("identity-linking", "Name of the annotation run (one Label Studio project per run).")
    k: int = setting(5, "Candidates shown per query tracklet.")
    embedders: list = setting(
        ["appearance", "gei"], "Candidate similarities to combine (registry names); unavailable ones are skipped."
    )
    weights: dict = setting(
        {"appearance": 1.0, "gei": 0.1},
        "Weight of each similarity in the combined score (GEIs match poorly across views: docs/benchmarks.md).",
    )
    max_gap_s: float = setting(
        0.0,
        "Time gate: drop candidates more than this many seconds away from the query (0: no gate; needs videos.start_time).",
    )
    neighbour_gap_s: float = setting(
        4.0,
        "Pieces of one walk: round 1 shows each query's tracklets of its own video that start or end within this "
        "many seconds of it, were never detected in one frame with it and are within a walker's reach of it, and "
        "a single-camera group's audit shows their benchmark groups (0: off). The candidates step scores these "
        "pairs (manifests/neighbours.parquet); chosen against 2 s on two worlds (docs/benchmarks.md).",
    )
    topology: dict = setting(
        {}, "Camera topology: camera_id -> list of cameras a walker can reach next; empty: every camera."
    )
    rank_query_block: int = setting(
        512,
        "Queries ranked together; memory per block grows with rank_query_block x rank_candidate_block "
        "(defaults chosen on `grewkit bench candidates` at GREW scale: docs/benchmarks.md).",
    )
    rank_candidate_block: int = setting(
        8192, "Candidates scored at once per query block (the other side of the block; see rank_query_block)."
    )
    strip_frames: int = setting(8, "Frames per annotator strip.")
    strip_height: int = setting(160, "Height in pixels of each frame of a strip.")
    descriptor_frames: int = setting(6, "Frames sampled per tracklet for the appearance descriptor.")
    annotators_per_task: int = setting(
        1, "Annotators who answer each task (Label Studio's overlap); 2 or more measures agreement."
    )
    min_same_votes: int = setting(
        3,
        "link_rule 'votes': 'same' votes a pair needs before it links (answers of one task by several annotators, or the "
        "pair seen again in a later round); until then it is asked again. With 2, two wrong answers on "
        "one pair link two people, which at 10 % error happened once in two draws (docs/benchmarks.md).",
    )
    link_rule: str = setting(
        "posterior",
        "How a pair is decided: 'posterior' (P(same) from the candidate score calibrated on the answers and "
        "each annotator's error rate estimated from the answers: linked at posterior_link, separated at "
        "posterior_separate) or 'votes' (linked at min_same_votes 'same' votes that outvote 'different'). "
        "Chosen on the bench dataset worlds (docs/annotation.md, docs/benchmarks.md).",
    )
    posterior_link: float = setting(
        0.995,
        "link_rule 'posterior': P(same) at which a pair (or a set, over its every cut) links, and P(different) "
        "at which a single-camera group needs no more audit beside a benchmark group (a wrong 'different' there "
        "leaks a benchmark person into the distractors) (chosen with max_asks 8 on the demo world, its "
        "1 s tracklets and a seed-1 world, 10 answer draws each: docs/benchmarks.md).",
    )
    posterior_separate: float = setting(
        0.9,
        "link_rule 'posterior': P(different) at which a pair is separated (a wrong separation loses a link, "
        "a wrong link merges two people, so this one is lower).",
    )
    first_round: str = setting(
        "tracklets",
        "Round 1: 'tracklets' (each kept tracklet's own task with its top K: a pair both sides rank is "
        "asked twice, and those two answers can confirm it at once), 'cover' (those tasks less the ones whose "
        "every candidate ranks the query back, so every pair is still shown: fewer first tasks, cheaper with "
        "two or more annotators per task) or 'pairs' (each ranked pair asked once, packed around shared "
        "tracklets: fewer first tasks, more second looks). Chosen on the bench dataset worlds "
        "(docs/benchmarks.md).",
    )
    max_asks: int = setting(
        8,
        "Times one pair is asked at most before it is left unsettled (not linked): what posterior_link 0.995 "
        "needs to keep the people 0.99 kept with 6; the votes rule was measured with 4 (docs/benchmarks.md).",
    )
    max_adjudications: int = setting(
        2, "Adjudication tasks one contradiction gets at most; after that its tracklets stay held out."
    )
    max_rounds: int = setting(
        20,
        "Rounds `grewkit run` asks simulated annotators at most before it stops (one annotator at 10 % error "
        "took up to 17 on the bench dataset test world with max_asks 8; 2 % closes in 7 or fewer).",
    )
    batch_size: int = setting(1000, "Tasks per import request.")
    preselect_min_score: float = setting(
        0.0, "Pre-select 'same' for the rank-1 candidate when its score is at least this (predictions)."
    )

    def link_options(self) -> dict:
        """The keyword arguments of ``resolve.resolve`` that decide links."""
        return {
            "min_same_votes": self.min_same_votes,
            "link_rule": self.link_rule,
            "posterior_link": self.posterior_link,
            "posterior_separate": self.posterior_separate,
        }

    def __post_init__(self):
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        if self.strip_frames < 1 or self.descriptor_frames < 1:
            raise ValueError("strip_frames and descriptor_frames must be at least 1")
        if self.annotators_per_task < 1:
            raise ValueError("annotators_per_task must be at least 1")
        if self.min_same_votes < 1 or self.max_asks < 1 or self.max_adjudications < 0 or self.max_rounds < 1:
            raise ValueError("min_same_votes, max_asks and max_rounds must be at least 1, max_adjudications >= 0")
        if self.first_round not in ("tracklets", "cover", "pairs"):
            raise ValueError(f"first_round must be 'tracklets', 'cover' or 'pairs', not {self.first_round!r}")
        if self.link_rule not in LINK_RULES:
            raise ValueError(f"link_rule must be one of {', '.join(LINK_RULES)}, not {self.link_rule!r}")
        if not (0.5 < self.posterior_link < 1 and 0.5 < self.posterior_separate < 1):
            raise ValueError("posterior_link and posterior_separate must be between 0.5 and 1 (exclusive)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.rank_query_block < 1 or self.rank_candidate_block < 1:
            raise ValueError("rank_query_block and rank_candidate_block must be at least 1")
        if any(not isinstance(w, (int, float)) or w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be numbers >= 0, not {self.weights}")
        if self.max_gap_s < 0 or self.neighbour_gap_s < 0:
            raise ValueError("max_gap_s and neighbour_gap_s must be >= 0")
