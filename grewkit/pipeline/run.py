"""``grewkit run``: every stage in order, each through its own command, skipping what is done.

Per-unit stages (ingest, detect, track, render) always run: the runner skips their done units,
so a rerun costs a glance at the state folder. The other steps record a marker in
``state/run/<step>.json`` when they succeed and are skipped on the next run; ``--force STEP``
(or deleting the marker) takes one again, and every step after it whose inputs it changed. A
marker holds a digest of the manifests the per-unit stages write (``Pipeline.upstream``), so a step that
ran before those changed (a changed ``[track]`` setting, a new video) runs again, with every step
after it: the release always comes from the current tracklets.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from grewkit.core.atomic import write_json
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import console
from grewkit.core.project import Project
from grewkit.core.wording import counted
from grewkit.pipeline.settings import ALL_STEPS, RunSettings

ALWAYS_RUN = {"ingest", "detect", "track", "render", "serve", "stop"}
# What the per-unit stages (ingest, detect, track, render) write and the later steps read.
UPSTREAM_MANIFESTS = ("videos", "cameras", "detections", "tracklets", "boxes", "sequences")
ANNOTATION_STEPS = ("candidates", "push", "annotate", "pull")


@dataclass
class StepResult:
    step: str
    status: str  # ran, skipped (done before), off (not in steps / not applicable)
    seconds: float = 0.0


def _invoke(args: list[str]) -> None:
    """Run a grewkit command in this process, as if typed; a failure raises."""
    from grewkit.cli.main import cli

    try:
        cli.main(args=args, prog_name="grewkit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise GrewkitError(f"`grewkit {' '.join(args)}` exited with status {exc.exit_code}") from None
    except click.ClickException as exc:
        raise GrewkitError(f"`grewkit {' '.join(args)}` failed: {exc.format_message()}") from None
    except SystemExit as exc:
        if exc.code:
            raise GrewkitError(f"`grewkit {' '.join(args)}` exited with status {exc.code}") from None


class Pipeline:
    def __init__(self, project: Project, *, quiet: bool = False):
        self.project = project
        self.settings: RunSettings = project.settings.section("run")
        self.quiet = quiet
        self.marker_dir = project.state_dir("run")
        self.p = ["--project", str(project.root)]

    # -- the steps ---------------------------------------------------------------------------
    def _q(self) -> list[str]:
        return ["--quiet"] if self.quiet else []

    def synth(self):
        _invoke(["synth", str(self.project.root), *self._q()])

    def ingest(self):
        if self.settings.source == "synth":
            folder = self.project.root / "media" / "synth"
            _invoke(["ingest", str(folder), "--cameras", str(folder / "cameras.csv"), *self.p, *self._q()])
        else:
            if not self.settings.videos or not self.settings.cameras_csv:
                raise GrewkitError(
                    "[run] source = 'ingest' needs `videos` and `cameras_csv`", path=self.project.settings_path
                )
            _invoke(["ingest", *self.settings.videos, "--cameras", self.settings.cameras_csv, *self.p, *self._q()])

    def detect(self):
        _invoke(["detect", *self.p, *self._q()])

    def track(self):
        _invoke(["track", *self.p, *self._q()])

    def render(self):
        _invoke(["render", *self.p, *self._q()])

    def _external_server(self) -> str | None:
        # An existing server named in the environment is used as it is: not started, not stopped.
        return os.environ.get("GREWKIT_LABEL_STUDIO_URL")

    def serve(self):
        if self._external_server():
            console.print(f"using the Label Studio at {self._external_server()}", highlight=False)
            return
        _invoke(["annotate", "serve", "--detach", *self.p])

    def candidates(self):
        _invoke(["annotate", "candidates", *self.p, *self._q()])

    def push(self):
        _invoke(["annotate", "push", *self.p, *self._q()])

    def annotate(self):
        from grewkit.annotate.campaign import open_backend

        backend, run = open_backend(self.project)
        if self.settings.annotation == "simulate":
            from grewkit.annotate.campaign import load_rounds, pull, push
            from grewkit.synth.answers import answer_open_tasks

            annotate = self.project.settings.section("annotate")
            # Rounds until the graph is closed: answer, pull (which plans the next round), push it.
            for number in range(1, annotate.max_rounds + 1):
                summary = answer_open_tasks(
                    self.project,
                    backend,
                    run,
                    error_rate=self.settings.simulated_error_rate,
                    seed=self.project.settings.section("synth").seed + 1000 * (number - 1),
                    annotators=annotate.annotators_per_task,
                    show_progress=not self.quiet,
                )
                console.print(f"round {number}: {summary.line()}", highlight=False)
                console.print(pull(self.project, backend, run).line(), highlight=False)
                rounds = load_rounds(self.project, run)
                if not rounds or rounds[-1]["pushed"]:
                    return  # nothing new planned: the campaign is closed
                console.print(push(self.project, backend, run, show_progress=not self.quiet).line(), highlight=False)
            console.print(f"stopped after [annotate] max_rounds = {annotate.max_rounds} rounds", highlight=False)
            return
        deadline = time.monotonic() + self.settings.wait_timeout_s
        while True:
            counts = backend.summary(run.project_id)
            open_tasks = counts.get("tasks", 0) - counts.get("done", 0) - counts.get("skipped", 0)
            if open_tasks <= 0:
                return
            if time.monotonic() > deadline:
                raise GrewkitError(
                    f"{counted(open_tasks, 'task')} still open after {self.settings.wait_timeout_s:.0f} s; "
                    "run `grewkit run` again to keep waiting"
                )
            console.print(f"waiting for annotators: {counted(open_tasks, 'task')} open ({run.url})", highlight=False)
            time.sleep(30)

    def pull(self):
        _invoke(["annotate", "pull", *self.p])

    def stop(self):
        if not self._external_server():
            _invoke(["annotate", "serve", "--stop", *self.p])

    def split(self):
        _invoke(["split", *self.p])

    def export(self):
        for fmt in self.settings.exports:
            out = self.project.root / "releases" / fmt
            _invoke(["export", fmt, str(out), *self.p, *self._q()])

    def _run_dir(self) -> Path:
        return self.project.root / "runs" / Path(self.settings.train_config).stem

    def train(self):
        run_dir = self._run_dir()
        if self.marker("train").exists() and run_dir.exists():
            # Trained before, and asked again (forced, or the identities changed since): a run
            # folder holds one set of training identities, so the earlier one is kept beside it.
            aside = run_dir.with_name(f"{run_dir.name}.before-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            run_dir.rename(aside)
            console.print(f"the earlier training run is kept in {self.project.relative(aside)}", highlight=False)
        args = [
            "train",
            "--config",
            self.settings.train_config,
            "--out",
            str(run_dir),
            "--device",
            "auto",
            *self.p,
        ]
        if self.settings.train_iterations:
            args += ["--iterations", str(self.settings.train_iterations)]
        _invoke([*args, *self._q()])

    def embed(self):
        features = self.project.root / "features"
        _invoke(["embed", "--model", "gei", "--split", "all", "--out", str(features / "gei"), *self.p, *self._q()])
        if self.settings.train_config:
            checkpoints = sorted((self._run_dir() / "checkpoints").glob("*.pt"))
            if not checkpoints:
                raise GrewkitError("no checkpoint to embed with", path=self._run_dir() / "checkpoints")
            _invoke(
                [
                    "embed",
                    "--checkpoint",
                    str(checkpoints[-1]),
                    "--split",
                    "all",
                    "--out",
                    str(features / self._run_dir().name),
                    *self.p,
                    *self._q(),
                ]
            )

    def evaluate(self):
        features = self.project.root / "features"
        for name in ["gei"] + ([self._run_dir().name] if self.settings.train_config else []):
            console.print(f"[bold]evaluation of {name} features ({self.settings.protocol} protocol)[/bold]")
            _invoke(
                [
                    "evaluate",
                    "--features",
                    str(features / name),
                    "--protocol",
                    self.settings.protocol,
                    "--out",
                    str(self.project.root / "reports" / f"evaluation-{name}.json"),
                    *self.p,
                ]
            )

    def report(self):
        _invoke(["report", *self.p])

    # -- the driver --------------------------------------------------------------------------
    def applicable(self, step: str) -> bool:
        if step not in self.settings.steps:
            return False
        if step == "synth":
            return self.settings.source == "synth"
        if step in ("serve", "candidates", "push", "annotate", "pull", "stop"):
            return self.settings.annotation != "skip"
        if step == "train":
            return bool(self.settings.train_config)
        return True

    def marker(self, step: str) -> Path:
        return self.marker_dir / f"{step}.json"

    def upstream(self) -> str:
        """A digest of the manifests the per-unit stages write (``UPSTREAM_MANIFESTS``, their bytes:
        a rerun that changes nothing writes the same bytes), kept in the markers of the steps after
        them: a step whose marker holds another digest ran on tracklets or renders that have since
        changed (a changed setting, new videos), so it runs again, and every step after it."""
        from grewkit.core.manifests import manifest_path

        digest = hashlib.sha256()
        for name in UPSTREAM_MANIFESTS:
            path = manifest_path(self.project.manifests_dir, name)
            for file in sorted(path.glob("*.parquet")) if path.is_dir() else [path]:
                if file.is_file():
                    digest.update(f"{name}/{file.name}\n".encode())
                    with open(file, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
        return digest.hexdigest()

    def _stale(self, step: str, upstream: str | None) -> bool:
        """Whether ``step``'s marker was written on other per-unit results than ``upstream`` (a
        marker written before markers held a digest is taken as current)."""
        if upstream is None or not self.marker(step).exists():
            return False
        try:
            recorded = json.loads(self.marker(step).read_text()).get("upstream")
        except (OSError, ValueError):
            return True
        return recorded is not None and recorded != upstream

    def run(self, *, force: set[str] = frozenset(), until: str | None = None) -> list[StepResult]:
        results = []
        forcing = False
        upstream = None
        needs_server = False
        for step in ALL_STEPS:
            forcing = forcing or step in force
            if step == "serve":
                # The per-unit stages are done: what they did decides which later steps are stale.
                # Decided once: a server is started only when an annotation step is left, and then
                # always stopped at the end of the annotation steps.
                upstream = self.upstream()
                needs_server = forcing or bool(force & set(ANNOTATION_STEPS))  # forcing holds "serve"
                needs_server = needs_server or not all(
                    self.marker(s).exists() and not self._stale(s, upstream) for s in ANNOTATION_STEPS
                )
            if not self.applicable(step):
                results.append(StepResult(step, "off"))
                continue
            if step not in ALWAYS_RUN and self._stale(step, upstream):
                forcing = True  # ran on results that have changed since: again, and every step after it
            if step in ("serve", "stop") and not needs_server:
                results.append(StepResult(step, "skipped"))  # no annotation step left: no server needed
            elif step not in ALWAYS_RUN and self.marker(step).exists() and not forcing:
                results.append(StepResult(step, "skipped"))
            else:
                console.rule(f"[bold]{step}")
                started = time.perf_counter()
                step_fn: Callable[[], None] = getattr(self, step)
                try:
                    step_fn()
                except BaseException:
                    # A failed annotation step must not leave the detached server running.
                    if needs_server and "serve" in [r.step for r in results if r.status == "ran"] and step != "stop":
                        self.stop()
                    raise
                seconds = time.perf_counter() - started
                if step not in ALWAYS_RUN:
                    marker = {"step": step, "seconds": round(seconds, 1)}
                    write_json(self.marker(step), marker | ({"upstream": upstream} if upstream else {}))
                results.append(StepResult(step, "ran", seconds))
            if step == until:
                break
        return results


def summary_lines(results: list[StepResult]) -> list[str]:
    return [
        f"{r.step:<11} {r.status:<8} {r.seconds:7.1f} s" if r.status == "ran" else f"{r.step:<11} {r.status}"
        for r in results
    ]


def read_evaluations(project: Project) -> dict[str, dict]:
    out = {}
    for path in sorted((project.root / "reports").glob("evaluation-*.json")):
        out[path.stem.removeprefix("evaluation-")] = json.loads(path.read_text())
    return out
