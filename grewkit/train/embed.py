"""Feature extraction: a trained checkpoint (or the GEI baseline) over sequences -> a features folder.

Each sequence embedder has ``embed(sequence) -> (P, D)`` (a sequence as ``grewkit.train.data.prepare``
gives it for the embedder's ``input_kind``), ``describe()`` (the metadata written beside the features)
and ``resolution``; ``make_sequence_embedder`` picks one from
the command's options. (The embedders of ``grewkit.annotate.candidates`` are another family: they
embed tracklets to rank identity candidates.)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.evaluate.features import save_features
from grewkit.train.data import SequenceRecord, SequenceStore


class GEISequenceEmbedder:
    """The classic baseline: the gait energy image (mean silhouette), flattened. No training."""

    name = "gei"
    input_kind = "silhouettes"

    def __init__(self, resolution: int = 64):
        self.resolution = resolution

    def embed(self, sil: np.ndarray) -> np.ndarray:
        return sil.mean(0).reshape(1, -1)

    def describe(self) -> dict:
        return {"model": "gei", "resolution": self.resolution}


class ModelEmbedder:
    """A gait model in eval mode; all frames of a sequence (up to ``max_test_frames``) in one pass."""

    name = "model"

    def __init__(
        self, model: torch.nn.Module, cfg, *, device: str = "cpu", checkpoint: str | None = None, iteration: int = 0
    ):
        from grewkit.train.loop import pick_device

        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.input_kind = getattr(model, "input_kind", "silhouettes")
        self.cfg = cfg
        self.resolution = cfg.data.resolution
        self.checkpoint = checkpoint
        self.iteration = iteration

    @classmethod
    def from_checkpoint(cls, checkpoint: str | Path, *, device: str = "cpu") -> ModelEmbedder:
        """A checkpoint file, or a run folder of `grewkit train` (its newest checkpoint)."""
        from grewkit.train.loop import checkpoints, model_from_checkpoint

        checkpoint = Path(checkpoint)
        if checkpoint.is_dir():
            found = checkpoints(checkpoint)
            if not found:
                raise GrewkitError(
                    "no checkpoints/iter-*.pt in this folder: not a run folder of `grewkit train`", path=checkpoint
                )
            checkpoint = found[-1]
        model, cfg, state = model_from_checkpoint(checkpoint)
        return cls(model, cfg, device=device, checkpoint=str(checkpoint), iteration=int(state["iteration"]))

    @classmethod
    def from_opengait(
        cls,
        checkpoint: str | Path,
        model: str,
        *,
        config: str | Path | None = None,
        resolution: int = 64,
        device: str = "cpu",
    ) -> ModelEmbedder:
        from grewkit.train.opengait import model_from_opengait

        net, cfg, iteration = model_from_opengait(checkpoint, model, config=config, resolution=resolution)
        emb = cls(net, cfg, device=device, checkpoint=str(checkpoint), iteration=iteration)
        emb.source = "opengait"
        return emb

    source = "grewkit"

    @torch.inference_mode()
    def embed(self, sil: np.ndarray) -> np.ndarray:
        sil = sil[: self.cfg.data.max_test_frames]
        x = torch.from_numpy(np.ascontiguousarray(sil)).unsqueeze(0).to(self.device)
        return self.model(x)["embeddings"][0].float().cpu().numpy()

    def describe(self) -> dict:
        return {
            "model": self.cfg.model.name,
            "checkpoint": self.checkpoint,
            "iteration": self.iteration,
            "resolution": self.resolution,
            "checkpoint_format": self.source,
        }


def make_sequence_embedder(
    *,
    checkpoint: str | None,
    model: str | None,
    device: str = "cpu",
    resolution: int = 64,
    opengait_checkpoint: str | None = None,
    opengait_config: str | None = None,
):
    if checkpoint and opengait_checkpoint:
        raise GrewkitError("give --checkpoint or --opengait-checkpoint, not both")
    if opengait_checkpoint:
        if not model or model == "gei":
            raise GrewkitError(
                "--opengait-checkpoint needs --model: gaitset, gaitpart, gaitbase, deepgaitv2, skeletongait, "
                "gaitgraph (GaitGraph1) or gaitgraph2"
            )
        return ModelEmbedder.from_opengait(
            opengait_checkpoint, model, config=opengait_config, resolution=resolution, device=device
        )
    if opengait_config:
        raise GrewkitError("--opengait-config goes with --opengait-checkpoint")
    if checkpoint:
        return ModelEmbedder.from_checkpoint(checkpoint, device=device)
    if model == "gei":
        return GEISequenceEmbedder(resolution)
    raise GrewkitError(
        "give --checkpoint (a model trained by `grewkit train`), --opengait-checkpoint with --model, "
        "or --model gei (the GEI baseline)"
    )


def embed_records(
    embedder,
    records: list[SequenceRecord],
    out_dir: str | Path,
    *,
    show_progress: bool = True,
    source: dict | None = None,
) -> dict:
    """Embed ``records`` into ``out_dir``; ``source`` (project, modality) goes into the index with the files' digest.

    Nothing of the checkpoint's training data is written beyond what ``describe`` says (model, file,
    iteration): its identity labels and class count stay in the checkpoint, so features of another
    project are scored with that project's identities only.
    """
    from grewkit.evaluate.features import files_digest

    store = SequenceStore(
        records, embedder.resolution, cache=False, kind=getattr(embedder, "input_kind", "silhouettes")
    )
    feats = []
    seconds = 0.0
    with progress_bar("embed", total=len(records), unit="seq", enabled=show_progress) as advance:
        for i in range(len(records)):
            sil = store.get(i)
            t0 = time.perf_counter()
            feats.append(embedder.embed(sil).astype(np.float32))
            seconds += time.perf_counter() - t0
            advance(1)
    array = np.stack(feats) if feats else np.zeros((0, 1, 1), np.float32)
    meta = {
        **embedder.describe(),
        **(source or {}),
        "sequences": len(records),
        "files_digest": files_digest((r.sequence_id, r.sha256) for r in records),
        "seconds_per_sequence": round(seconds / max(len(records), 1), 6),
    }
    save_features(out_dir, [r.sequence_id for r in records], array, meta)
    return meta
