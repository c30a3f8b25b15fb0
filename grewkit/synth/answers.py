"""Answer a campaign's open tasks from the synthetic world's ground truth, as people would.

The demo and the end-to-end test have no people at hand: simulated annotators
(``grewkit.synth.annotators``) sign up through the server's invite link and answer through the
same endpoints the labelling page uses, so the round trip (push, answer, pull, resolve) is the
real one. The truth of a tracked tracklet is the ground-truth identity it overlaps most.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow.compute as pc

from grewkit.annotate.backends.base import AnnotationBackend
from grewkit.annotate.runs import AnnotationRun
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.core.wording import counted
from grewkit.synth.annotators import SimulatedAnnotator, TimeModel, answer_from_truth


@dataclass(frozen=True)
class SimulationSummary:
    answered: int
    already_answered: int
    without_truth: int
    annotators: int

    def line(self) -> str:
        return (
            f"simulated annotators ({self.annotators}): {counted(self.answered, 'task')} answered, "
            f"{self.already_answered} already answered, {self.without_truth} query tracklets match no "
            f"ground-truth person (answered 'different' throughout)"
        )


def truth_of_tracklets(project: Project) -> tuple[dict[str, str], dict[str, dict[str, list[str]]]]:
    """(tracklet -> true identity, identity -> attribute -> values) from ``ground_truth/``."""
    from grewkit.synth.truth import ground_truth, match_tracklets_to_truth

    if not (project.root / "ground_truth").is_dir():
        raise GrewkitError(
            "simulated annotators need the synthetic world's ground truth (grewkit synth)",
            path=project.root / "ground_truth",
        )
    matched = match_tracklets_to_truth(project)
    identity_of = {t: i for t, i in zip(matched["tracklet_id"].to_pylist(), matched["identity_id"].to_pylist()) if i}
    attrs = ground_truth(project).read("attributes")
    attrs = attrs.filter(pc.equal(attrs["level"], "identity"))
    values: dict[str, dict[str, list[str]]] = {}
    for subject, attribute, value in zip(
        attrs["subject_id"].to_pylist(), attrs["attribute"].to_pylist(), attrs["value"].to_pylist()
    ):
        values.setdefault(subject, {}).setdefault(attribute, []).append(value)
    return identity_of, values


def answer_open_tasks(
    project: Project,
    backend: AnnotationBackend,
    run: AnnotationRun,
    *,
    error_rate: float,
    seed: int,
    annotators: int = 1,
    show_progress: bool = True,
    time_model: TimeModel | None = None,
) -> SimulationSummary:
    """Each open task gets answers from ``annotators`` simulated people, truthful but for ``error_rate``,
    each with a lead time from ``time_model`` (the default ``TimeModel`` when None)."""
    time_model = time_model or TimeModel()
    if run.project_id is None:
        raise GrewkitError("the campaign has no Label Studio project yet: run `grewkit annotate push` first")
    identity_of, attributes = truth_of_tracklets(project)
    invite = backend.client.call("invite link", backend.sdk.organizations.invites.get_invite_link).invite_url
    people = [
        SimulatedAnnotator(backend.client.url, invite, f"simulated-{i + 1}@grewkit.local") for i in range(annotators)
    ]
    rng = random.Random(seed)
    # Lead times draw from their own stream, so the answers of a seed are what they were without them.
    clock = random.Random(f"lead-time-{seed}")
    tasks = sorted(backend.export(run.project_id), key=lambda t: t["data"].get("grewkit_key", ""))
    answered = already = without_truth = 0
    with progress_bar("simulated annotators", total=len(tasks), unit="task", enabled=show_progress) as advance:
        for task in tasks:
            advance(1)
            if task.get("annotations"):
                already += 1
                continue
            without_truth += task["data"]["query_id"] not in identity_of
            chosen = people
            if task["data"].get("kind") == "adjudicate":
                # Someone who did not answer the chain settles it; when everyone did, all answer
                # and the majority places each candidate (a tie places none).
                others = [p for p in people if p.email not in task["data"].get("answered_chain", [])]
                chosen = [others[rng.randrange(len(others))]] if others else people
            for person in chosen:
                result = answer_from_truth(
                    task["data"], identity_of, attributes=attributes, error_rate=error_rate, rng=rng
                )
                person.answer(task["id"], result, lead_time=time_model.lead_time(task["data"], result, clock))
            answered += 1
    return SimulationSummary(answered, already, without_truth, annotators)
