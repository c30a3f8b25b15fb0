"""The [run] section: which steps ``grewkit run`` takes and how."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting

ALL_STEPS = [
    "synth",
    "ingest",
    "detect",
    "track",
    "render",
    "serve",
    "candidates",
    "push",
    "annotate",
    "pull",
    "stop",
    "split",
    "export",
    "train",
    "embed",
    "evaluate",
    "report",
]


@dataclass(frozen=True)
class RunSettings:
    source: str = setting(
        "synth", "Footage: 'synth' (generate it with the [synth] settings) or 'ingest' (the files in `videos`)."
    )
    videos: list = setting([], "With source = 'ingest': video files or folders to register.")
    cameras_csv: str = setting("", "With source = 'ingest': the cameras.csv naming each file's camera.")
    annotation: str = setting(
        "simulate",
        "How identities get linked: 'simulate' (annotators answering from the synthetic "
        "ground truth, through a real Label Studio), 'wait' (people annotate; the run waits) or 'skip'.",
    )
    simulated_error_rate: float = setting(
        0.03, "Fraction of same/different answers the simulated annotators get wrong."
    )
    wait_timeout_s: float = setting(86400.0, "With annotation = 'wait': give up after this many seconds.")
    exports: list = setting(["opengait", "grew"], "Release formats written to PROJECT/releases/<format>.")
    train_config: str = setting("gaitset_tiny", "Bundled training config or TOML path ('' skips training).")
    train_iterations: int = setting(300, "Training iterations (0: the config's own number).")
    protocol: str = setting("grew", "Evaluation protocol (see `grewkit evaluate --help`).")
    steps: list = setting(ALL_STEPS, "Steps to take, in order; drop one to skip it.")

    def __post_init__(self):
        if self.source not in ("synth", "ingest"):
            raise ValueError(f"source must be 'synth' or 'ingest', not {self.source!r}")
        if self.annotation not in ("simulate", "wait", "skip"):
            raise ValueError(f"annotation must be 'simulate', 'wait' or 'skip', not {self.annotation!r}")
        unknown = [s for s in self.steps if s not in ALL_STEPS]
        if unknown:
            raise ValueError(f"unknown steps {unknown}; known: {', '.join(ALL_STEPS)}")
        if not 0.0 <= self.simulated_error_rate <= 1.0:
            raise ValueError("simulated_error_rate must be within [0, 1]")
