"""Training configs: TOML files with sections [model], [data], [augment], [optim], [loss], [train].

Bundled configs live in ``grewkit/train/configs/``; ``grewkit train --config NAME`` accepts a
bundled name (``gaitset_grew``) or a path. Unknown sections or keys are errors naming the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from grewkit.core.errors import GrewkitError
from grewkit.core.resources import read_toml

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class ModelSection:
    name: str = "gaitset"
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DataSection:
    modality: str = "sil64"
    resolution: int = 64
    frames: int = 30
    ordered: bool = False
    p: int = 8
    k: int = 8
    cache: bool = True
    max_test_frames: int = 720
    # "pk": P identities x K sequences; "random": batch_size sequences drawn at random (OpenGait's
    # CommonSampler, which the pose models' configs use).
    sampler: str = "pk"
    batch_size: int = 128
    # Independently sampled and augmented clips per sequence, each a row of the batch (OpenGait's TwoView: 2).
    views: int = 1


@dataclass(frozen=True)
class AugmentSection:
    # Pose augmentations applied to each clip in order (grewkit.train.augment), e.g. { name = "mirror", probability = 0.5 }.
    steps: list = field(default_factory=list)


@dataclass(frozen=True)
class OptimSection:
    name: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    milestones: list = field(default_factory=list)
    gamma: float = 0.1
    # "multistep": lr times gamma at each milestone; "onecycle": torch's OneCycleLR over the run's iterations
    # with max_lr = lr (OpenGait's pose configs), its momentum cycling and pct_start 0.3 as torch defaults them.
    scheduler: str = "multistep"
    three_phase: bool = False
    div_factor: float = 25.0
    final_div_factor: float = 1e4


@dataclass(frozen=True)
class LossSection:
    triplet_margin: float = 0.2
    triplet_weight: float = 1.0
    ce_weight: float = 0.0
    label_smoothing: float = 0.1
    # Supervised contrastive: "supcon" is OpenGait's SupConLoss_Re (dot product, scaled by
    # temperature / base_temperature; GaitGraph1), "supcon_lp" its SupConLoss_Lp (distance of normalised
    # embeddings; GaitGraph2). Both use supcon_temperature.
    supcon_weight: float = 0.0
    supcon_lp_weight: float = 0.0
    supcon_temperature: float = 0.01
    supcon_base_temperature: float = 0.07


@dataclass(frozen=True)
class TrainSection:
    iterations: int = 1000
    checkpoint_every: int = 500
    log_every: int = 50
    seed: int = 0
    amp: bool = True


SECTION_TYPES = {
    "model": ModelSection,
    "data": DataSection,
    "augment": AugmentSection,
    "optim": OptimSection,
    "loss": LossSection,
    "train": TrainSection,
}


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    augment: AugmentSection = AugmentSection()
    optim: OptimSection = OptimSection()
    loss: LossSection = LossSection()
    train: TrainSection = TrainSection()
    source: str = "<defaults>"

    @classmethod
    def from_dict(cls, raw: dict, *, source: str = "<dict>") -> TrainConfig:
        sections = {}
        for name, values in raw.items():
            if name not in SECTION_TYPES:
                raise GrewkitError(f"unknown section [{name}]; known: {', '.join(SECTION_TYPES)}", path=source)
            typ = SECTION_TYPES[name]
            known = {f.name: f for f in dataclasses.fields(typ)}
            for key, value in values.items():
                if key not in known:
                    raise GrewkitError(f"[{name}] has no key {key!r}; known: {', '.join(known)}", path=source)
                default = (
                    known[key].default
                    if known[key].default is not dataclasses.MISSING
                    else known[key].default_factory()
                )
                if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if type(default) is not type(value):
                    raise GrewkitError(f"[{name}] {key} = {value!r} should be {type(default).__name__}", path=source)
                values = {**values, key: value}
            sections[name] = typ(**values)
        cfg = cls(**sections, source=source)
        cfg.check()
        return cfg

    @classmethod
    def load(cls, name_or_path: str | Path) -> TrainConfig:
        path = Path(name_or_path)
        if not path.suffix and not path.exists():
            path = CONFIG_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            bundled = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
            raise GrewkitError(f"no such config (bundled: {bundled})", path=path)
        return cls.from_dict(read_toml(path, what="training config"), source=str(path))

    def check(self) -> None:
        from grewkit.train.models import MODELS

        MODELS.require(self.model.name, path=self.source)
        if self.data.resolution not in (64, 128):
            raise GrewkitError("data.resolution must be 64 or 128", path=self.source)
        if self.optim.name not in ("adam", "adamw", "sgd"):
            raise GrewkitError(f"optim.name must be adam, adamw or sgd, not {self.optim.name!r}", path=self.source)
        if self.optim.scheduler not in ("multistep", "onecycle"):
            raise GrewkitError(
                f"optim.scheduler must be multistep or onecycle, not {self.optim.scheduler!r}", path=self.source
            )
        from grewkit.train.losses import LOSSES

        weights = [f"loss.{name}_weight" for name in LOSSES]
        if all(getattr(self.loss, f"{name}_weight", 0.0) <= 0 for name in LOSSES):
            raise GrewkitError(f"at least one of {', '.join(weights)} must be positive", path=self.source)
        if self.loss.supcon_temperature <= 0 or self.loss.supcon_base_temperature <= 0:
            raise GrewkitError("loss.supcon_temperature and supcon_base_temperature must be positive", path=self.source)
        if self.train.iterations < 1 or self.data.frames < 1:
            raise GrewkitError("train.iterations and data.frames must be positive", path=self.source)
        if self.data.sampler not in ("pk", "random"):
            raise GrewkitError(f"data.sampler must be pk or random, not {self.data.sampler!r}", path=self.source)
        if self.data.sampler == "random" and self.data.batch_size < 2:
            raise GrewkitError("data.batch_size must be at least 2", path=self.source)
        if self.data.views < 1:
            raise GrewkitError("data.views must be at least 1", path=self.source)
        if self.augment.steps:
            from grewkit.train.augment import PoseAugment

            PoseAugment(self.augment.steps, source=self.source)
            kind = getattr(MODELS.get(self.model.name), "input_kind", "silhouettes")
            if kind != "pose":
                raise GrewkitError(
                    f"[augment] steps are pose augmentations; model {self.model.name!r} reads {kind}",
                    path=self.source,
                )

    def to_dict(self) -> dict:
        return {name: dataclasses.asdict(getattr(self, name)) for name in SECTION_TYPES}
