"""Simulated annotators for tests and benchmarks: people as Label Studio sees them.

A ``SimulatedAnnotator`` signs up through the organisation's invite link, logs in with a
session cookie and CSRF token (as a browser does), and posts, skips and edits annotations
through the same endpoints the labelling page uses, lead time included. ``answer_from_truth``
answers a task from known identities and attributes, with a chosen error rate; ``TimeModel`` says
how long that took.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import requests

from grewkit.annotate.config import LINK_CHOICES
from grewkit.core.errors import GrewkitError


class SimulatedAnnotator:
    def __init__(self, url: str, invite_url: str, email: str, password: str = "walks-like-a-person-1"):
        self.url = url.rstrip("/")
        self.email = email
        self.session = requests.Session()
        signup = f"{self.url}{invite_url}"
        self.session.get(signup, timeout=60)
        self.session.post(
            signup,
            data={"email": email, "password": password, "csrfmiddlewaretoken": self.session.cookies["csrftoken"]},
            headers={"Referer": signup},
            timeout=60,
        )
        if not self._logged_in_as(email):
            # Signed up before (a re-run against the same server): log in, as that person would.
            login = f"{self.url}/user/login/"
            self.session.get(login, timeout=60)
            self.session.post(
                login,
                data={
                    "email": email,
                    "password": password,
                    "csrfmiddlewaretoken": self.session.cookies.get("csrftoken", ""),
                },
                headers={"Referer": login},
                timeout=60,
            )
        if not self._logged_in_as(email):
            raise GrewkitError(f"sign-up of {email} through the invite link failed, and so did logging in")

    def _logged_in_as(self, email: str) -> bool:
        try:
            return self.api("GET", "/api/current-user/whoami").get("email") == email
        except GrewkitError:
            return False

    def api(self, method: str, path: str, **kwargs):
        headers = {"X-CSRFToken": self.session.cookies.get("csrftoken", ""), "Referer": self.url + "/"}
        response = self.session.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)
        if response.status_code not in (200, 201):
            raise GrewkitError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    def answer(self, task_id: int, result: list, lead_time: float = 4.2) -> int:
        """Submit ``result``; ``lead_time`` is the seconds the labelling page reports with it."""
        return self.api(
            "POST", f"/api/tasks/{task_id}/annotations/", json={"result": result, "lead_time": float(lead_time)}
        )["id"]

    def skip(self, task_id: int, lead_time: float = 2.0) -> int:
        return self.api(
            "POST",
            f"/api/tasks/{task_id}/annotations/",
            json={"result": [], "was_cancelled": True, "lead_time": float(lead_time)},
        )["id"]

    def edit(self, annotation_id: int, result: list) -> None:
        self.api("PATCH", f"/api/annotations/{annotation_id}/", json={"result": result})


@dataclass(frozen=True)
class TimeModel:
    """Seconds a simulated annotator spends on a task: ``(base_s + per_candidate_s * candidates shown
    + per_attribute_s * attributes answered) * exp(N(0, sigma))``, a log-normal factor with median 1.

    The constants are assumptions, not measurements (docs/annotation.md, "Time per answer"): a few
    seconds to take in the query strip, a few per candidate strip compared with it, about two per
    attribute click; the spread stands for people and tasks that differ.
    """

    base_s: float = 6.0
    per_candidate_s: float = 4.0
    per_attribute_s: float = 2.0
    sigma: float = 0.4

    def lead_time(self, data: dict, result: list, rng: random.Random) -> float:
        shown, i = 0, 1
        while f"cand{i}_id" in data:
            shown += bool(data[f"cand{i}_id"])  # empty slots show a placeholder, nothing to compare
            i += 1
        attributes = sum(1 for r in result if not str(r.get("from_name", "")).startswith("cand"))
        mean = self.base_s + self.per_candidate_s * shown + self.per_attribute_s * attributes
        return round(mean * math.exp(rng.gauss(0.0, self.sigma)), 2)


def choice(name: str, to_name: str, values) -> dict:
    return {"from_name": name, "to_name": to_name, "type": "choices", "value": {"choices": list(values)}}


def answer_from_truth(
    data: dict,
    truth: dict[str, str],
    *,
    attributes: dict[str, dict[str, list[str]]] | None = None,
    error_rate: float = 0.0,
    rng: random.Random | None = None,
) -> list:
    """The result an annotator gives a task: each link right with probability 1 - error_rate
    (a wrong answer flips same/different), attributes of the query's true identity."""
    rng = rng or random.Random(0)
    result = []
    query_identity = truth.get(data["query_id"])
    i = 1
    while f"cand{i}_id" in data:
        candidate = data[f"cand{i}_id"]
        if candidate:
            same = truth.get(candidate) is not None and truth.get(candidate) == query_identity
            if rng.random() < error_rate:
                same = not same
            label = "same" if same else "different"
            assert label in LINK_CHOICES
            result.append(choice(f"cand{i}", f"cand{i}_image", [label]))
        i += 1
    for attribute, values in ((attributes or {}).get(query_identity) or {}).items():
        result.append(choice(attribute, "query", values))
    return result
