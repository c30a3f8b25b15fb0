"""The four bundled models: shapes at both resolutions, a training step, the registry, configs."""

import numpy as np
import pytest
import torch

from grewkit.core.errors import GrewkitError
from grewkit.train.config import CONFIG_DIR, TrainConfig
from grewkit.train.data import PKSampler, sample_frames, transform
from grewkit.train.losses import ce_loss, triplet_loss
from grewkit.train.models import MODELS, build_model

SMALL = {
    "geinet": {"hidden": 32},
    "gaitset": {"channels": [4, 8, 8], "out_channels": 16},
    "gaitpart": {"channels": [4, 8, 8], "out_channels": 16},
    "gaitbase": {"channels": [4, 8, 8, 16], "out_channels": 16},
}
PARTS = {"geinet": 1, "gaitset": 62, "gaitpart": 16, "gaitbase": 16}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("res", [(64, 44), (128, 88)])
def test_model_shapes_and_step(name, res):
    torch.manual_seed(0)
    model = build_model(name, num_classes=3, height=res[0], width=res[1], **SMALL[name])
    x = torch.rand(4, 6, *res)
    out = model(x)
    emb = out["embeddings"]
    assert emb.shape[:2] == (4, PARTS[name]) and emb.shape[2] > 0
    y = torch.tensor([0, 0, 1, 2])
    loss, _ = triplet_loss(emb, y)
    if out["logits"] is not None:
        assert out["logits"].shape == (4, PARTS[name], 3)
        loss = loss + ce_loss(out["logits"], y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():  # any number of frames at test time
        assert model(torch.rand(1, 11, *res))["embeddings"].shape[1] == PARTS[name]


def test_triplet_loss_hand_case():
    # Part-wise distances: same-label pair at 0, other label at 1 -> margin 0.2 is satisfied: loss 0.
    emb = torch.tensor([[[0.0]], [[0.0]], [[1.0]], [[1.0]]])
    y = torch.tensor([0, 0, 1, 1])
    loss, frac = triplet_loss(emb, y, margin=0.2)
    assert loss.item() == pytest.approx(0.0, abs=1e-5) and frac == 0.0
    # Positives 1 apart; each anchor has one negative at 0 (cost 1.2) and one at 1 (cost 0.2): mean 0.7.
    emb2 = torch.tensor([[[0.0]], [[1.0]], [[0.0]], [[1.0]]])
    loss2, frac2 = triplet_loss(emb2, y, margin=0.2)
    assert loss2.item() == pytest.approx(0.7, abs=1e-4) and frac2 == 1.0


def test_transform_opengait_cut():
    sil = np.zeros((3, 64, 64), np.uint8)
    sil[:, :, 10:54] = 255
    out = transform(sil, 64)
    assert out.shape == (3, 64, 44) and out.dtype == np.float32 and out.min() == 1.0
    assert transform(np.zeros((2, 128, 128), np.uint8), 128).shape == (2, 128, 88)
    assert transform(np.zeros((2, 64, 44), np.uint8), 64).shape == (2, 64, 44)
    with pytest.raises(GrewkitError, match="shape"):
        transform(np.zeros((64, 64), np.uint8), 64)


def test_pk_sampler_and_frames():
    labels = ["a"] * 5 + ["b"] * 1 + ["c"] * 3
    batch = next(iter(PKSampler(labels, p=3, k=4, seed=1)))
    assert len(batch) == 12
    groups = [sorted({labels[i] for i in batch[j:j + 4]}) for j in range(0, 12, 4)]
    assert all(len(g) == 1 for g in groups) and len({g[0] for g in groups}) == 3
    rng = np.random.default_rng(0)
    seq = np.arange(5)[:, None, None] * np.ones((5, 2, 2))
    clip = sample_frames(seq, 3, rng, ordered=True)
    assert np.all(np.diff(clip[:, 0, 0]) == 1)
    assert len(sample_frames(seq, 9, rng, ordered=False)) == 9
    with pytest.raises(GrewkitError):
        PKSampler(["a", "a"], p=2, k=2)


def test_bundled_configs_load_and_bad_keys(tmp_path):
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
    assert {"gaitset_grew", "gaitpart_grew", "gaitbase_grew", "geinet_grew", "gaitset_tiny"} <= set(names)
    for name in names:
        cfg = TrainConfig.load(name)
        assert cfg.model.name in MODELS
    grew = TrainConfig.load("gaitset_grew")
    assert grew.optim.name == "adam" and grew.optim.lr == 1e-4 and grew.optim.gamma == pytest.approx(0.1)
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim]\nlearning_rate = 0.1\n")
    with pytest.raises(GrewkitError, match="learning_rate"):
        TrainConfig.load(bad)
    bad.write_text("[model]\nname = 'resnet'\n")
    with pytest.raises(GrewkitError, match="unknown model"):
        TrainConfig.load(bad)
