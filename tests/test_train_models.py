"""The bundled models: shapes at both resolutions, a training step, the registry, configs, and
parameter counts equal to OpenGait's for every published config."""

import numpy as np
import pytest
import torch

from grewkit.core.errors import GrewkitError
from grewkit.train.config import CONFIG_DIR, TrainConfig
from grewkit.train.data import PKSampler, input_shape, sample_frames, transform
from grewkit.train.losses import ce_loss, triplet_loss
from grewkit.train.models import MODELS, build_model

SMALL = {
    "geinet": {"hidden": 32},
    "gaitset": {"channels": [4, 8, 8], "out_channels": 16},
    "gaitpart": {"channels": [4, 8, 8], "out_channels": 16},
    "gaitbase": {"channels": [4, 8, 8, 16], "out_channels": 16},
    "deepgaitv2": {"channels": [4, 8, 8, 16], "blocks": [1, 2, 1, 1]},
    "gaitgraph": {"input_branch": [3, 8, 8], "main_stream": [8, 16, 16], "num_out": 8, "reduction": 4},
    "gaitgraph2": {"input_branch": [5, 8, 8], "main_stream": [8, 16], "num_out": 8, "reduction": 4},
    "skeletongait": {"channels": [4, 8, 8, 16], "blocks": [1, 1, 1, 1]},
}
PARTS = {
    "geinet": 1,
    "gaitset": 62,
    "gaitpart": 16,
    "gaitbase": 16,
    "deepgaitv2": 16,
    "gaitgraph": 1,
    "gaitgraph2": 1,
    "skeletongait": 16,
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("res", [(64, 44), (128, 88)])
def test_model_shapes_and_step(name, res):
    torch.manual_seed(0)
    model = build_model(name, num_classes=3, height=res[0], width=res[1], **SMALL[name])
    x = torch.rand(4, *input_shape(model.input_kind, 6, *res))
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
        assert model(torch.rand(1, *input_shape(model.input_kind, 11, *res)))["embeddings"].shape[1] == PARTS[name]


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
    groups = [sorted({labels[i] for i in batch[j : j + 4]}) for j in range(0, 12, 4)]
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


# OpenGait's parameter counts, worked out from the layer shapes its model files and configs build
# (opengait/modeling/models/*.py, backbones/plain.py and resnet.py, configs/*/*.yaml), not from
# grewkit's modules. Classifier sizes are the configs' class_num: 20,000 for GREW, 74 for CASIA-B.
def _conv(cin, cout, k):
    return cin * cout * k


def _bn(c):
    return 2 * c


def _og_gaitset(c, out):
    c0, c1, c2, c3 = c
    block = lambda a, b, k: _conv(a, b, k * k) + _conv(b, b, 9)  # noqa: E731
    return (block(c0, c1, 5) + 2 * block(c1, c2, 3) + 2 * block(c2, c3, 3)) + 62 * c3 * out


def _og_gaitpart(layers, out, parts=16):
    total, cin, first = 0, 1, True
    for spec in layers:
        if spec == "M":
            continue
        cout = int(spec.split("-")[1])
        total += _conv(cin, cout, 25 if first else 9)
        cin, first = cout, False
    hidden = cin // 4
    tfa = parts * (_conv(cin, hidden, 3) + _conv(hidden, cin, 1) + _conv(cin, hidden, 3) + _conv(hidden, cin, 3))
    return total + tfa + parts * cin * out


def _basic_block(cin, cout, stride):  # torchvision's BasicBlock, as ResNet9 and BasicBlock2D use it
    down = _conv(cin, cout, 1) + _bn(cout) if (stride != 1 or cin != cout) else 0
    return _conv(cin, cout, 9) + _bn(cout) + _conv(cout, cout, 9) + _bn(cout) + down


def _og_gaitbase(classes, ch=(64, 128, 256, 512), strides=(1, 2, 2, 1), out=256, parts=16):
    total, cin = _conv(1, ch[0], 9) + _bn(ch[0]), ch[0]
    for c, s in zip(ch, strides):
        total += _basic_block(cin, c, s)
        cin = c
    return total + parts * cin * out + _bn(out * parts) + parts * out * classes


def _og_deepgaitv2(classes, layers, ch=(64, 128, 256, 512), parts=16, in_channels=1):
    total = _conv(in_channels, ch[0], 9) + _bn(ch[0]) + sum(_basic_block(ch[0], ch[0], 1) for _ in range(layers[0]))
    cin = ch[0]
    for c, n, s in zip(ch[1:], layers[1:], (2, 2, 1)):
        for b in range(n):  # BasicBlockP3D: two 3x3 convs + BN2d, a 3x1x1 Conv3d + BN3d, a 1x1x1 projection
            proj = _conv(cin, c, 1) + _bn(c) if (b == 0 and (s != 1 or cin != c)) else 0
            total += _conv(cin, c, 9) + _bn(c) + _conv(c, c, 9) + _bn(c) + _conv(c, c, 3) + _bn(c) + proj
            cin = c
    return total + parts * ch[3] * ch[2] + _bn(ch[2] * parts) + parts * ch[2] * classes


def _convb(cin, cout, k):  # ResGCN's convolutions keep nn.Conv2d's bias
    return cin * cout * k + cout


_EDGE = 4 * 17 * 17  # every ResGCNModule's edge importance: ones_like(A), A from Graph(max_hop=3)


def _og_resgcn_module(cin, cout, kind, reduction, strided):
    """OpenGait's ResGCNModule (backbones/resgcn.py with modules.py's Spatial/Temporal blocks, kernel [9, 2])."""
    if kind == "initial":  # SpatialBasicBlock and TemporalBasicBlock without residuals
        return _convb(cin, 3 * cout, 1) + _bn(cout) + _convb(cout, cout, 9) + _bn(cout) + _EDGE
    m = cout // reduction  # Bottleneck: both blocks with their own residuals, none around the module
    spatial = _convb(cin, m, 1) + _bn(m) + _convb(m, 3 * m, 1) + _bn(m) + _convb(m, cout, 1) + _bn(cout)
    spatial += _convb(cin, cout, 1) + _bn(cout) if cin != cout else 0
    temporal = _convb(cout, m, 1) + _bn(m) + _convb(m, m, 9) + _bn(m) + _convb(m, cout, 1) + _bn(cout)
    temporal += _convb(cout, cout, 1) + _bn(cout) if strided else 0
    return spatial + temporal + _EDGE


def _og_resgcn(input_num, branch, main, reduction, num_class):
    """GaitGraph1/GaitGraph2: input_num branches (BatchNorm, an initial module, bottleneck modules), the main
    stream (the first module's temporal residual is strided, get_res; later ones where the width changes)
    and nn.Linear(256, num_class)."""
    one = _bn(branch[0]) + sum(
        _og_resgcn_module(branch[i], branch[i + 1], "initial" if i == 0 else "Bottleneck", reduction, False)
        for i in range(len(branch) - 1)
    )
    total = input_num * one
    for i in range(len(main) - 1):
        cin = main[i] * input_num if i == 0 else main[i]
        total += _og_resgcn_module(cin, main[i + 1], "Bottleneck", reduction, i == 0 or main[i] != main[i + 1])
    return total + 256 * num_class + num_class


OPENGAIT_COUNTS = {
    "gaitset_grew": (20000, _og_gaitset((1, 64, 128, 256), 256)),
    "gaitset_casiab": (74, _og_gaitset((1, 32, 64, 128), 256)),
    "gaitpart_grew": (
        20000,
        _og_gaitpart(
            ["BC-32", "BC-32", "M", "BC-64", "BC-64", "M", "FC-128-3", "FC-128-3", "FC-256-3", "FC-256-3"], 256
        ),
    ),
    "gaitpart_casiab": (
        74,
        _og_gaitpart(["BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3"], 128),
    ),
    "gaitbase_grew": (20000, _og_gaitbase(20000)),
    "gaitbase_casiab": (74, _og_gaitbase(74)),
    "deepgaitv2_grew": (20000, _og_deepgaitv2(20000, (1, 4, 4, 1))),
    "deepgaitv2_casiab": (74, _og_deepgaitv2(74, (1, 1, 1, 1))),
    # SkeletonGait: DeepGaitV2 at C = 2 (32C = 64 channels) on two-channel maps
    "skeletongait_grew": (20000, _og_deepgaitv2(20000, (1, 4, 4, 1), in_channels=2)),
    # GaitGraph1 (configs/gaitgraph1/gaitgraph1_phase1_GREW.yaml, gaitgraph1_phase1.yaml) and GaitGraph2
    # (configs/gaitgraph2/gaitgraph2_GREW.yaml, gaitgraph2.yaml): no classifier, num_class is the embedding.
    "gaitgraph_grew": (20000, _og_resgcn(1, (3, 64, 64, 32), (32, 128, 128, 256, 256), 8, 256)),
    "gaitgraph_casiab": (74, _og_resgcn(1, (3, 64, 64, 32), (32, 128, 128, 256, 256), 8, 128)),
    "gaitgraph2_grew": (20000, _og_resgcn(3, (5, 64, 64, 32), (32, 128, 128, 128, 256, 256, 256), 4, 128)),
    "gaitgraph2_casiab": (74, _og_resgcn(3, (5, 64, 32), (32, 128, 256), 8, 128)),
}


def test_opengait_arithmetic_matches_the_published_counts():
    # The figures OpenGait's own models print for these configs.
    assert OPENGAIT_COUNTS["gaitset_grew"][1] == 6_313_536
    assert OPENGAIT_COUNTS["gaitpart_grew"][1] == 4_841_248
    assert OPENGAIT_COUNTS["gaitpart_casiab"][1] == 1_204_000


@pytest.mark.parametrize("config", sorted(OPENGAIT_COUNTS))
def test_parameter_counts_equal_opengait(config):
    from grewkit.train.loop import make_model

    classes, expected = OPENGAIT_COUNTS[config]
    with torch.device("meta"):  # shapes only: a 95 M-parameter GREW classifier costs no memory
        model = make_model(TrainConfig.load(config), classes)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_gaitpart_micro_motion_as_published():
    """No biases in the attention convolutions; average pooling counts the zero padding (nn.AvgPool1d)."""
    from grewkit.train.models.gaitpart import MicroMotion

    mm = MicroMotion(8, 2)
    assert all(m.bias is None for m in mm.modules() if isinstance(m, torch.nn.Conv1d))
    for p in mm.parameters():
        torch.nn.init.zeros_(p)  # every gate is sigmoid(0) = 1/2
    x = torch.rand(1, 8, 2, 6)
    z = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 0), (2, 2)))  # zeros at both ends of the clip
    t = x.shape[-1]
    avg3 = np.stack([z[..., i + 1 : i + 4].sum(-1) / 3 for i in range(t)], -1)
    avg5 = np.stack([z[..., i : i + 5].sum(-1) / 5 for i in range(t)], -1)
    zm = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 0), (2, 2)), constant_values=-np.inf)
    max3 = np.stack([zm[..., i + 1 : i + 4].max(-1) for i in range(t)], -1)
    max5 = np.stack([zm[..., i : i + 5].max(-1) for i in range(t)], -1)
    expected = (0.5 * (avg3 + max3) + 0.5 * (avg5 + max5)).max(-1)
    np.testing.assert_allclose(mm(x).detach().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_gaitpart_layer_specs():
    from grewkit.train.models.gaitpart import GaitPart

    with pytest.raises(ValueError, match="XC-3"):
        GaitPart(layers=["BC-4", "XC-3"])
    m = GaitPart(layers=["BC-4", "M", "BC-8", "M", "FC-8-1"], out_channels=4)
    assert m(torch.rand(2, 5, 64, 44))["embeddings"].shape == (2, 16, 4)
