"""Simulated annotators: answer Label Studio tasks from the synthetic world's ground truth.

They stand in for people in the demo and the end-to-end test, through the same server API a
person's browser uses, so the round trip (push, answer, pull, resolve) is the real one. An
``error_rate`` flips some same/different answers, as tired people do, which gives the
contradiction detection in ``annotate pull`` something to find.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pyarrow.compute as pc

from grewkit.annotate.backend import AnnotationBackend
from grewkit.annotate.runs import AnnotationRun
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project

# Control names of annotation/identity_link.xml; the values are its aliases (= synth's attribute values).
SINGLE_CHOICE_ATTRIBUTES = ("gender", "age_group", "upper", "lower")
MULTI_CHOICE_ATTRIBUTES = ("carrying",)


@dataclass(frozen=True)
class SimulationSummary:
    answered: int
    already_answered: int
    unknown_truth: int
    flipped: int

    def line(self) -> str:
        return (f"simulated annotators: {self.answered} tasks answered, {self.already_answered} already answered, "
                f"{self.unknown_truth} candidate links without ground truth answered 'unsure', "
                f"{self.flipped} answers deliberately wrong")


def _truth(project: Project) -> tuple[dict[str, str], dict[str, dict[str, list[str]]]]:
    from grewkit.synth.truth import ground_truth, match_tracklets_to_truth

    matched = match_tracklets_to_truth(project)
    identity_of = {t: i for t, i in zip(matched["tracklet_id"].to_pylist(), matched["identity_id"].to_pylist()) if i}
    attrs = ground_truth(project).read("attributes")
    attrs = attrs.filter(pc.equal(attrs["level"], "identity"))
    values: dict[str, dict[str, list[str]]] = {}
    for subject, attribute, value in zip(attrs["subject_id"].to_pylist(), attrs["attribute"].to_pylist(),
                                         attrs["value"].to_pylist()):
        values.setdefault(subject, {}).setdefault(attribute, []).append(value)
    return identity_of, values


def _choice(name: str, to: str, values: list[str]) -> dict:
    return {"from_name": name, "to_name": to, "type": "choices", "value": {"choices": sorted(values)}}


def answer_tasks(project: Project, backend: AnnotationBackend, run: AnnotationRun, *, error_rate: float = 0.0,
                 seed: int = 0, show_progress: bool = True) -> SimulationSummary:
    """Answer every task of the campaign that has no annotation yet, truthfully but for ``error_rate``."""
    if run.project_id is None:
        raise GrewkitError("the campaign has no Label Studio project yet: run `grewkit annotate push` first")
    if not (project.root / "ground_truth").is_dir():
        raise GrewkitError("simulated annotators need the synthetic world's ground truth (grewkit synth)",
                           path=project.root / "ground_truth")
    identity_of, attributes = _truth(project)
    rng = random.Random(seed)
    tasks = sorted(backend.export(run.project_id), key=lambda t: t["data"].get("grewkit_key", ""))
    answered = already = unknown = flipped = 0
    with progress_bar("simulated annotators", total=len(tasks), unit="task", enabled=show_progress) as advance:
        for task in tasks:
            advance(1)
            if task.get("annotations"):
                already += 1
                continue
            data = task["data"]
            query_identity = identity_of.get(data["query_id"])
            result = []
            for i in range(1, 1000):
                if f"cand{i}_id" not in data:
                    break
                candidate = data[f"cand{i}_id"]
                if not candidate:
                    continue  # an empty slot (fewer candidates than the config has rows)
                candidate_identity = identity_of.get(candidate)
                if query_identity is None or candidate_identity is None:
                    answer = "unsure"
                    unknown += 1
                else:
                    same = query_identity == candidate_identity
                    if rng.random() < error_rate:
                        same = not same
                        flipped += 1
                    answer = "same" if same else "different"
                result.append(_choice(f"cand{i}", f"cand{i}_image", [answer]))
            truth = attributes.get(query_identity or "", {})
            for name in (*SINGLE_CHOICE_ATTRIBUTES, *MULTI_CHOICE_ATTRIBUTES):
                if truth.get(name):
                    chosen = truth[name] if name in MULTI_CHOICE_ATTRIBUTES else truth[name][:1]
                    result.append(_choice(name, "query", chosen))
            backend.client.request("POST", f"/api/tasks/{task['id']}/annotations/",
                                   json={"result": result, "lead_time": round(rng.uniform(5, 40), 1)})
            answered += 1
    return SimulationSummary(answered, already, unknown, flipped)
