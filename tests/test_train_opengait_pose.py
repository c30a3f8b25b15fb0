"""OpenGait checkpoints of the pose models: GaitGraph1, GaitGraph2 and SkeletonGait (OpenGait's DeepGaitV2
on two-channel skeleton maps) load through `model_from_opengait` and give the embeddings of the model
whose weights they hold.

A checkpoint is made by renaming a trained-looking grewkit model's tensors to OpenGait's names, written
out here from OpenGait's module tree (``GaitGraph1.ResGCN`` -> ``head.<i>`` ResGCNInputBranch with
``bn``, ``layers.<j>`` ResGCNModule (``scn``/``tcn`` blocks, ``edge``) and the saved graph ``A``;
``backbone.<j>``; ``fcn``), and saved in OpenGait's checkpoint format.
"""

import numpy as np
import pytest
import torch

from grewkit.core.errors import GrewkitError
from grewkit.train.models import build_model
from grewkit.train.models.gaitgraph import hop_adjacency
from grewkit.train.opengait import mapping, model_from_opengait

SMALL = {
    "gaitgraph": {"input_branch": [3, 16, 16, 8], "main_stream": [8, 32, 32, 256], "num_out": 12, "reduction": 4},
    "gaitgraph2": {"input_branch": [5, 16, 8], "main_stream": [8, 32, 256], "num_out": 12, "reduction": 4},
}
GAITGRAPH2_YAML = """model_cfg:
  model: GaitGraph2
  joint_format: coco
  input_num: 3
  reduction: 4
  block: Bottleneck
  input_branch: [5, 16, 8]
  main_stream: [8, 32, 256]
  num_class: 12
  tta: true
"""


def _trained_looking(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif name.endswith("running_mean") or name.endswith(".bias"):
                t.copy_(0.2 * torch.randn(t.shape, generator=g))
            elif name.endswith("edge"):
                t.copy_(1 + 0.3 * torch.randn(t.shape, generator=g))
    return model.eval()


def _opengait_names(model):
    # OpenGait's GaitGraph1/GaitGraph2 hold the whole network as self.ResGCN; the layout below it is grewkit's.
    return {"ResGCN." + k: v.clone() for k, v in model.state_dict().items()}


def _poses(n=2, t=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(n, t, 17, 3, generator=g) * 0.3
    pose[..., 2] = torch.rand(n, t, 17, generator=g)
    return pose


def _save(path, sd):
    torch.save({"model": sd, "optimizer": {}, "scheduler": {}, "iteration": 4321}, path)


@pytest.mark.parametrize("name", ["gaitgraph", "gaitgraph2"])
def test_gaitgraph_checkpoint_in_opengait_names_gives_the_same_embeddings(tmp_path, name):
    torch.manual_seed(0)
    model = _trained_looking(build_model(name, num_classes=0, height=64, width=44, **SMALL[name]))
    sd = _opengait_names(model)
    # Names and shapes as OpenGait's modules make them.
    streams = 1 if name == "gaitgraph" else 3
    assert sum(k.endswith(".A") for k in sd) == streams and sd["ResGCN.head.0.A"].shape == (4, 17, 17)
    assert sd["ResGCN.head.0.layers.0.scn.conv.gcn.weight"].shape == (3 * 16, SMALL[name]["input_branch"][0], 1, 1)
    assert sd["ResGCN.head.0.layers.0.edge"].shape == (4, 17, 17)
    assert sd["ResGCN.backbone.0.tcn.residual.0.weight"].shape == (32, 32, 1, 1)  # get_res: strided 1x1
    assert sd["ResGCN.backbone.0.scn.residual.0.weight"].shape == (32, 8 * streams, 1, 1)
    assert sd["ResGCN.fcn.weight"].shape == (12, 256)
    _save(tmp_path / "ckpt.pt", sd)
    loaded, cfg, iteration = model_from_opengait(tmp_path / "ckpt.pt", name)
    assert iteration == 4321 and cfg.data.modality == "pose2d" and not loaded.training
    assert cfg.model.args["input_branch"] == SMALL[name]["input_branch"]
    assert cfg.model.args["main_stream"] == SMALL[name]["main_stream"] and cfg.model.args["reduction"] == 4
    pose = _poses()
    with torch.no_grad():
        want, got = model(pose)["embeddings"], loaded(pose)["embeddings"]
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    # OpenGait's test-time augmentation: GaitGraph1 averages with the reversed sequence, GaitGraph2 stacks 3 views.
    assert want.shape == ((2, 1, 12) if name == "gaitgraph" else (2, 1, 36))
    if name == "gaitgraph2":
        yaml = tmp_path / "gg2.yaml"
        yaml.write_text(GAITGRAPH2_YAML)
        from_yaml, _, _ = model_from_opengait(tmp_path / "ckpt.pt", name, config=yaml)
        with torch.no_grad():
            torch.testing.assert_close(from_yaml(pose)["embeddings"], want, rtol=0, atol=0)
        yaml.write_text(GAITGRAPH2_YAML.replace("reduction: 4", "reduction: 8"))
        with pytest.raises(GrewkitError, match="ResGCN.head.0.layers.1.scn.conv_down.weight") as err:
            model_from_opengait(tmp_path / "ckpt.pt", name, config=yaml)
        assert "\n" not in str(err.value) and "ckpt.pt" in str(err.value)


def test_gaitgraph_checkpoint_of_another_graph_or_architecture_is_refused(tmp_path):
    model = build_model("gaitgraph", num_classes=0, height=64, width=44, **SMALL["gaitgraph"])
    sd = _opengait_names(model)
    sd["ResGCN.head.0.A"] = torch.from_numpy(hop_adjacency(max_hop=3, edges=((0, 1), (1, 2))))
    _save(tmp_path / "other-graph.pt", sd)
    with pytest.raises(GrewkitError, match=r"'ResGCN.head.0.A' holds another graph") as err:
        model_from_opengait(tmp_path / "other-graph.pt", "gaitgraph")
    assert "other-graph.pt" in str(err.value)
    # A GaitGraph1 checkpoint is not a GaitGraph2 one: its single input branch is named.
    _save(tmp_path / "gg1.pt", _opengait_names(model))
    with pytest.raises(GrewkitError, match="1 input branches"):
        model_from_opengait(tmp_path / "gg1.pt", "gaitgraph2")
    sd = _opengait_names(model)
    del sd["ResGCN.backbone.1.tcn.bn_up.running_var"]
    _save(tmp_path / "truncated.pt", sd)
    with pytest.raises(GrewkitError, match="missing key 'ResGCN.backbone.1.tcn.bn_up.running_var'"):
        model_from_opengait(tmp_path / "truncated.pt", "gaitgraph")


def test_skeletongait_checkpoint_loads_as_opengaits_deepgaitv2_on_two_channels(tmp_path):
    small = {"channels": [4, 8, 8, 16], "blocks": [1, 2, 1, 1]}
    model = _trained_looking(build_model("skeletongait", num_classes=5, height=64, width=44, **small))
    # The names OpenGait's DeepGaitV2 gives, through the same mapping the deepgaitv2 loader checks
    # against OpenGait's own forward (tests/test_train_opengait.py); the first convolution takes 2 channels.
    sd = {}
    for entry in mapping("skeletongait", model):
        (og,) = entry.opengait
        t = model.state_dict()[entry.grewkit]
        if entry.grewkit.startswith("bnneck.bn.") and t.dim():
            t = t.reshape(16, -1).t().reshape(-1)  # back to OpenGait's channel-major BNNeck order
        sd[og] = t.clone()
    assert sd["layer0.forward_block.0.weight"].shape == (4, 2, 3, 3)
    _save(tmp_path / "SkeletonGait-180000.pt", sd)
    loaded, cfg, _ = model_from_opengait(tmp_path / "SkeletonGait-180000.pt", "skeletongait")
    assert cfg.data.modality == "skel64"
    maps = torch.rand(2, 6, 2, 64, 44, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded(maps)["embeddings"], model(maps)["embeddings"], rtol=0, atol=0)
        torch.testing.assert_close(loaded(maps)["logits"], model(maps)["logits"], rtol=0, atol=0)
    # A one-channel DeepGaitV2 checkpoint is not SkeletonGait's: the first convolution's shape is named.
    sil_model = build_model("deepgaitv2", num_classes=5, height=64, width=44, **small)
    sd1 = {e.opengait[0]: sil_model.state_dict()[e.grewkit] for e in mapping("deepgaitv2", sil_model)}
    _save(tmp_path / "DeepGaitV2.pt", sd1)
    with pytest.raises(GrewkitError, match=r"'layer0.forward_block.0.weight' has shape \(4, 1, 3, 3\)"):
        model_from_opengait(tmp_path / "DeepGaitV2.pt", "skeletongait")
    assert np.isfinite(loaded(maps)["embeddings"].detach().numpy()).all()
