"""OpenGait checkpoints loaded into grewkit's models give OpenGait's embeddings.

The reference here is written from OpenGait's model files (names, shapes, forward order) with
torch.nn.functional only: ``OpenGaitWeights`` hands out OpenGait-named tensors, creating each
random one on first use, so one reference forward both defines a checkpoint in OpenGait's naming
and computes what OpenGait's model would output for it. Nothing of grewkit's mapping is used to
build the checkpoint: its names and layouts (per-part TFA convolutions, channel-major BNNeck)
are OpenGait's own.
"""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from grewkit.core.errors import GrewkitError
from grewkit.train.opengait import model_from_opengait

lrelu = F.leaky_relu  # nn.LeakyReLU's default slope, as OpenGait uses it


class OpenGaitWeights:
    def __init__(self, seed=0):
        self.sd = {}
        self.g = torch.Generator().manual_seed(seed)

    def w(self, key, *shape):
        if key not in self.sd:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            self.sd[key] = torch.randn(*shape, generator=self.g) * (2.0 / fan_in) ** 0.5
        assert tuple(self.sd[key].shape) == shape, key
        return self.sd[key]

    def bn(self, prefix, c, x):
        if prefix + ".weight" not in self.sd:  # trained-looking statistics, so a wrong layout shows
            self.sd[prefix + ".weight"] = 1 + 0.2 * torch.randn(c, generator=self.g)
            self.sd[prefix + ".bias"] = 0.2 * torch.randn(c, generator=self.g)
            self.sd[prefix + ".running_mean"] = 0.3 * torch.randn(c, generator=self.g)
            self.sd[prefix + ".running_var"] = 0.5 + torch.rand(c, generator=self.g)
            self.sd[prefix + ".num_batches_tracked"] = torch.tensor(1000)
        s = self.sd
        return F.batch_norm(
            x,
            s[prefix + ".running_mean"],
            s[prefix + ".running_var"],
            s[prefix + ".weight"],
            s[prefix + ".bias"],
            False,
            0.0,
            1e-5,
        )

    def save(self, path, iteration=1234):
        torch.save({"model": self.sd, "optimizer": {}, "scheduler": {}, "iteration": iteration}, path)


def frames(f, x):  # SetBlockWrapper: (n, c, s, h, w), f on every frame
    n, c, s, h, w = x.shape
    y = f(x.transpose(1, 2).reshape(n * s, c, h, w))
    return y.reshape(n, s, *y.shape[1:]).transpose(1, 2)


def hpp(x, bins):  # HorizontalPoolingPyramid: (n, c, h, w) -> (n, c, p)
    n, c = x.shape[:2]
    return torch.cat([(z := x.reshape(n, c, b, -1)).mean(-1) + z.max(-1)[0] for b in bins], -1)


def separate_fcs(x, fc):  # (n, c, p) -> (n, d, p)
    return x.permute(2, 0, 1).matmul(fc).permute(1, 2, 0)


def bnnecks(og, x, classes):  # (n, c, p) -> logits (n, classes, p); BatchNorm1d over x.view(n, c*p)
    n, c, p = x.shape
    y = og.bn("BNNecks.bn1d", c * p, x.reshape(n, -1)).reshape(n, c, p).permute(2, 0, 1)
    fc = og.w("BNNecks.fc_bin", p, c, classes)
    return F.normalize(y, dim=-1).matmul(F.normalize(fc, dim=1)).permute(1, 2, 0)


def og_gaitset(og, sils, c=(4, 8, 8), out=6, bins=(16, 8, 4, 2, 1)):
    def block(prefix, x, cin, cout, k, pool):
        x = lrelu(F.conv2d(x, og.w(prefix + "0.conv.weight", cout, cin, k, k), padding=k // 2))
        x = lrelu(F.conv2d(x, og.w(prefix + "2.conv.weight", cout, cout, 3, 3), padding=1))
        return F.max_pool2d(x, 2) if pool else x

    c1, c2, c3 = c
    x = frames(lambda z: block("set_block1.forward_block.", z, 1, c1, 5, True), sils.unsqueeze(1))
    gl = block("gl_block2.", x.max(2)[0], c1, c2, 3, True)
    x = frames(lambda z: block("set_block2.forward_block.", z, c1, c2, 3, True), x)
    gl = block("gl_block3.", gl + x.max(2)[0], c2, c3, 3, False)
    x = frames(lambda z: block("set_block3.forward_block.", z, c2, c3, 3, False), x).max(2)[0]
    gl = gl + x
    feat = torch.cat([hpp(x, bins), hpp(gl, bins)], -1)
    return separate_fcs(feat, og.w("Head.fc_bin", 2 * sum(bins), c3, out)), None


def og_gaitpart(og, sils, layers=("BC-4", "BC-4", "M", "FC-8-2", "FC-8-2", "M", "FC-8-3", "FC-8-3"), out=6, parts=16):
    def plain(z):
        cin, idx = 1, 0
        for spec in layers:
            if spec == "M":
                z, idx = F.max_pool2d(z, 2), idx + 1
                continue
            typ, cout = spec.split("-")[0], int(spec.split("-")[1])
            k = 5 if idx == 0 else 3
            wt = og.w(f"Backbone.forward_block.feature.{idx}.conv.weight", cout, cin, k, k)
            if typ == "BC":
                z = F.conv2d(z, wt, padding=k // 2)
            else:
                split = z.shape[2] // 2 ** int(spec.split("-")[2])
                z = torch.cat([F.conv2d(s, wt, padding=k // 2) for s in z.split(split, 2)], 2)
            z, idx, cin = lrelu(z), idx + 2, cout
        return z

    x = frames(plain, sils.unsqueeze(1))
    x = frames(lambda z: hpp(z, [parts]).unsqueeze(-1), x).squeeze(-1)  # (n, c, s, p)
    n, c, s, p = x.shape
    x = x.permute(3, 0, 1, 2).contiguous()  # (p, n, c, s)
    flat = x.reshape(-1, c, s)
    hidden = c // 4

    def mtb(stack, k2, i):
        w0 = og.w(f"TFA.pooling_func.{stack}.{i}.0.conv.weight", hidden, c, 3)
        w2 = og.w(f"TFA.pooling_func.{stack}.{i}.2.conv.weight", c, hidden, k2)
        return F.conv1d(lrelu(F.conv1d(x[i], w0, padding=1)), w2, padding=k2 // 2)

    s31 = torch.sigmoid(torch.stack([mtb("conv1d3x1", 1, i) for i in range(p)]))
    s33 = torch.sigmoid(torch.stack([mtb("conv1d3x3", 3, i) for i in range(p)]))
    f31 = (F.avg_pool1d(flat, 3, 1, 1) + F.max_pool1d(flat, 3, 1, 1)).reshape(p, n, c, s) * s31
    f33 = (F.avg_pool1d(flat, 5, 1, 2) + F.max_pool1d(flat, 5, 1, 2)).reshape(p, n, c, s) * s33
    ret = (f31 + f33).max(-1)[0].permute(1, 2, 0)  # (n, c, p)
    return separate_fcs(ret, og.w("Head.fc_bin", parts, c, out)), None


def _basic(og, prefix, z, cin, cout, stride):  # torchvision's BasicBlock / OpenGait's BasicBlock2D
    y = F.relu(
        og.bn(
            prefix + "bn1", cout, F.conv2d(z, og.w(prefix + "conv1.weight", cout, cin, 3, 3), stride=stride, padding=1)
        )
    )
    y = og.bn(prefix + "bn2", cout, F.conv2d(y, og.w(prefix + "conv2.weight", cout, cout, 3, 3), padding=1))
    if stride != 1 or cin != cout:
        z = og.bn(
            prefix + "downsample.1",
            cout,
            F.conv2d(z, og.w(prefix + "downsample.0.weight", cout, cin, 1, 1), stride=stride),
        )
    return F.relu(y + z)


def og_baseline(og, sils, ch=(4, 8, 8, 16), blocks=(1, 2, 1, 1), out=6, classes=5):
    def backbone(z):  # ResNet9, maxpool false, strides 1 2 2 1
        p = "Backbone.forward_block."
        z = F.relu(og.bn(p + "bn1", ch[0], F.conv2d(z, og.w(p + "conv1.conv.weight", ch[0], 1, 3, 3), padding=1)))
        cin = ch[0]
        for i, (c, nb, s) in enumerate(zip(ch, blocks, (1, 2, 2, 1)), start=1):
            for b in range(nb):
                z, cin = _basic(og, f"{p}layer{i}.{b}.", z, cin, c, s if b == 0 else 1), c
        return z

    feat = hpp(frames(backbone, sils.unsqueeze(1)).max(2)[0], [16])
    emb = separate_fcs(feat, og.w("FCs.fc_bin", 16, ch[3], out))
    return emb, bnnecks(og, emb, classes)


def og_deepgaitv2(og, sils, ch=(4, 8, 8, 16), layers=(1, 2, 1, 1), classes=5):
    x = frames(
        lambda z: F.relu(
            og.bn(
                "layer0.forward_block.1",
                ch[0],
                F.conv2d(z, og.w("layer0.forward_block.0.weight", ch[0], 1, 3, 3), padding=1),
            )
        ),
        sils.unsqueeze(1),
    )

    def layer1(z):
        for b in range(layers[0]):
            z = _basic(og, f"layer1.forward_block.{b}.", z, ch[0], ch[0], 1)
        return z

    x = frames(layer1, x)
    cin = ch[0]
    for i, (c, nb, s) in enumerate(zip(ch[1:], layers[1:], (2, 2, 1)), start=2):
        for b in range(nb):  # BasicBlockP3D
            p, st = f"layer{i}.{b}.", s if b == 0 else 1
            y = frames(
                lambda z: F.relu(
                    og.bn(
                        p + "conv1.forward_block.1",
                        c,
                        F.conv2d(z, og.w(p + "conv1.forward_block.0.weight", c, cin, 3, 3), stride=st, padding=1),
                    )
                ),
                x,
            )
            y = F.relu(
                y + og.bn(p + "sbn", c, F.conv3d(y, og.w(p + "shortcut3d.weight", c, c, 3, 1, 1), padding=(1, 0, 0)))
            )
            y = frames(
                lambda z: og.bn(
                    p + "conv2.forward_block.1",
                    c,
                    F.conv2d(z, og.w(p + "conv2.forward_block.0.weight", c, c, 3, 3), padding=1),
                ),
                y,
            )
            if b == 0 and (st != 1 or cin != c):
                x = og.bn(
                    p + "downsample.1",
                    c,
                    F.conv3d(x, og.w(p + "downsample.0.weight", c, cin, 1, 1, 1), stride=(1, st, st)),
                )
            x, cin = F.relu(y + x), c
    emb = separate_fcs(hpp(x.max(2)[0], [16]), og.w("FCs.fc_bin", 16, ch[3], ch[2]))
    return emb, bnnecks(og, emb, classes)


GAITPART_YAML = """model_cfg:
  model: GaitPart
  backbone_cfg:
    in_channels: 1
    layers_cfg: [BC-4, BC-4, M, FC-8-2, FC-8-2, M, FC-8-3, FC-8-3]
    type: Plain
  SeparateFCs: {in_channels: 8, out_channels: 6, parts_num: 16}
  bin_num: [16]
"""
BASELINE_YAML = """model_cfg:
  model: Baseline
  backbone_cfg:
    type: ResNet9
    block: BasicBlock
    channels: [4, 8, 8, 16]
    layers: [1, 2, 1, 1]
    strides: [1, 2, 2, 1]
    maxpool: false
  SeparateFCs: {in_channels: 16, out_channels: 6, parts_num: 16}
  SeparateBNNecks: {class_num: 5, in_channels: 6, parts_num: 16}
  bin_num: [16]
"""
CASES = {  # name -> (reference forward, OpenGait YAML or None to read the widths from the checkpoint)
    "gaitset": (og_gaitset, None),
    "gaitpart": (og_gaitpart, GAITPART_YAML),
    "gaitbase": (og_baseline, None),
    "gaitbase-yaml": (og_baseline, BASELINE_YAML),
    "deepgaitv2": (og_deepgaitv2, None),
}


def _sils(n=2, t=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, t, 64, 44, generator=g) > 0.5).float()


def _checkpoint(tmp_path, case, seed=0):
    og = OpenGaitWeights(seed)
    ref = CASES[case][0](og, _sils())
    path = tmp_path / f"{case}-01234.pt"
    og.save(path)
    return og, ref, path


@pytest.mark.parametrize("case", sorted(CASES))
def test_opengait_checkpoint_gives_opengait_embeddings(tmp_path, case):
    name = case.split("-")[0]
    og, (ref_emb, ref_logits), path = _checkpoint(tmp_path, case)
    config = None
    if CASES[case][1]:
        config = tmp_path / "cfg.yaml"
        config.write_text(CASES[case][1])
    model, cfg, iteration = model_from_opengait(path, name, config=config)
    assert iteration == 1234 and cfg.model.name == name and not model.training
    with torch.no_grad():
        out = model(_sils())
    scale = float(ref_emb.abs().max())
    torch.testing.assert_close(out["embeddings"], ref_emb.transpose(1, 2), rtol=1e-4, atol=1e-5 * scale)
    if ref_logits is not None:  # the BNNeck's statistics in OpenGait's channel-major order
        torch.testing.assert_close(out["logits"] / 16.0, ref_logits.transpose(1, 2), rtol=1e-4, atol=1e-5)


def test_published_gaitpart_layout_needs_no_config(tmp_path):
    og = OpenGaitWeights(3)
    layers = ("BC-32", "BC-32", "M", "FC-64-2", "FC-64-2", "M", "FC-128-3", "FC-128-3")
    ref, _ = og_gaitpart(og, _sils(1, 5), layers=layers, out=128)
    og.save(tmp_path / "GaitPart-120000.pt")
    model, cfg, _ = model_from_opengait(tmp_path / "GaitPart-120000.pt", "gaitpart")
    assert cfg.model.args["layers"] == list(layers)
    assert sum(p.numel() for p in model.parameters()) == 1_204_000
    with torch.no_grad():
        torch.testing.assert_close(
            model(_sils(1, 5))["embeddings"], ref.transpose(1, 2), rtol=1e-4, atol=1e-5 * float(ref.abs().max())
        )


def test_other_architecture_is_named(tmp_path):
    _, _, path = _checkpoint(tmp_path, "gaitset")
    with pytest.raises(GrewkitError, match=r"gaitset-01234\.pt: missing key 'FCs\.fc_bin'") as exc:
        model_from_opengait(path, "gaitbase")
    assert "\n" not in str(exc.value)


def test_truncated_checkpoint(tmp_path):
    _, _, path = _checkpoint(tmp_path, "gaitset")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(GrewkitError, match=r"cut\.pt: not a readable checkpoint"):
        model_from_opengait(cut, "gaitset")


class _Touch:  # a pickle that would create a file when loaded without weights_only
    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {"Head.fc_bin": torch.zeros(1)}, "hook": _Touch(marker)}, evil)
    with pytest.raises(GrewkitError, match=r"evil\.pt: refused"):
        model_from_opengait(evil, "gaitset")
    assert not marker.exists()
    raw = tmp_path / "raw.pkl"  # a plain pickle of a call, not even a torch file
    raw.write_bytes(pickle.dumps(_Touch(marker)))
    with pytest.raises(GrewkitError, match=r"raw\.pkl: "):
        model_from_opengait(raw, "gaitset")
    assert not marker.exists()


def test_config_with_other_widths_names_the_first_mismatch(tmp_path):
    _, _, path = _checkpoint(tmp_path, "gaitbase")
    config = tmp_path / "wide.yaml"
    config.write_text(BASELINE_YAML.replace("channels: [4, 8, 8, 16]", "channels: [4, 8, 12, 16]"))
    with pytest.raises(
        GrewkitError,
        match=r"gaitbase-01234\.pt: key 'Backbone\.forward_block\.layer3\.0\.conv1\.weight' "
        r"has shape \(8, 8, 3, 3\), grewkit's gaitbase with these widths expects \(12, 8, 3, 3\)",
    ):
        model_from_opengait(path, "gaitbase", config=config)
    config.write_text(GAITPART_YAML.replace("model: GaitPart", "model: GaitSet"))
    with pytest.raises(GrewkitError, match=r"wide\.yaml: model_cfg\.model is 'GaitSet'"):
        model_from_opengait(path, "gaitpart", config=config)


def test_missing_and_extra_keys_are_named(tmp_path):
    og, _, path = _checkpoint(tmp_path, "gaitpart")
    config = tmp_path / "cfg.yaml"
    config.write_text(GAITPART_YAML)
    del og.sd["TFA.pooling_func.conv1d3x3.7.2.conv.weight"]
    og.save(path)
    with pytest.raises(GrewkitError, match=r"missing key 'TFA\.pooling_func\.conv1d3x3\.7\.2\.conv\.weight'"):
        model_from_opengait(path, "gaitpart", config=config)
    og.sd["TFA.pooling_func.conv1d3x3.7.2.conv.weight"] = torch.zeros(8, 2, 3)
    og.sd["Head.bias"] = torch.zeros(3)
    og.save(path)
    with pytest.raises(GrewkitError, match=r"unexpected key 'Head\.bias'"):
        model_from_opengait(path, "gaitpart", config=config)


def test_cli_embed_refuses_and_writes_nothing(tmp_path):
    from grewkit.cli.main import cli

    _, _, path = _checkpoint(tmp_path, "gaitset")
    out = tmp_path / "features"
    project = tmp_path / "p"
    assert CliRunner().invoke(cli, ["init", str(project)]).exit_code == 0
    r = CliRunner().invoke(
        cli,
        [
            "embed",
            "--project",
            str(project),
            "--opengait-checkpoint",
            str(path),
            "--model",
            "deepgaitv2",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 1 and "gaitset-01234.pt: missing key 'FCs.fc_bin'" in r.output
    assert len(r.output.strip().splitlines()) == 1 and not out.exists()
    r = CliRunner().invoke(
        cli, ["embed", "--project", str(project), "--opengait-checkpoint", str(path), "--out", str(out)]
    )
    assert r.exit_code != 0 and "--model" in r.output and not out.exists()


@pytest.mark.parametrize("name", ["gaitset", "gaitpart", "gaitbase", "deepgaitv2", "gaitgraph2"])
def test_grewkit_weights_written_in_opengait_names_load_back_unchanged(name):
    # to_opengait is the loader's inverse: per-part TFA convolutions split, the BNNeck back to channel-major.
    from grewkit.train.models import build_model
    from grewkit.train.opengait import check_and_convert, to_opengait

    small = {
        "gaitset": {"channels": [4, 8, 8], "out_channels": 6},
        "gaitpart": {"layers": ["BC-4", "BC-4", "M", "FC-8-2", "FC-8-2", "M", "FC-8-3", "FC-8-3"], "out_channels": 6},
        "gaitbase": {"channels": [4, 8, 8, 16], "out_channels": 6},
        "deepgaitv2": {"channels": [4, 8, 8, 16], "blocks": [1, 2, 1, 1]},
        "gaitgraph2": {"input_branch": [5, 8, 8], "main_stream": [8, 16, 256], "num_out": 6, "reduction": 4},
    }[name]
    torch.manual_seed(0)
    model = build_model(name, num_classes=5, height=64, width=44, **small)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape))
    og = to_opengait(name, model)
    if name == "gaitpart":
        assert og["TFA.pooling_func.conv1d3x1.15.0.conv.weight"].shape == (2, 8, 3)
    if name == "gaitbase":
        c, p = 6, 16  # OpenGait's BatchNorm1d index c * P + p holds grewkit's p * D + d
        assert og["BNNecks.bn1d.running_mean"][3 * p + 5] == model.state_dict()["bnneck.bn.running_mean"][5 * c + 3]
    back = check_and_convert(name, model, og, Path("x.pt"))
    for key, t in model.state_dict().items():
        assert torch.equal(back[key], t), key
