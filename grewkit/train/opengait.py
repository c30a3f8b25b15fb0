"""OpenGait checkpoints: GaitSet, GaitPart, GaitBase (OpenGait's ``Baseline``), DeepGaitV2, SkeletonGait
(OpenGait's DeepGaitV2 on two-channel skeleton maps), GaitGraph1 and GaitGraph2 weights trained with
OpenGait, loaded into grewkit's models so that they give OpenGait's embeddings.

An OpenGait checkpoint is ``{"model": state_dict, "optimizer": ..., "scheduler": ..., "iteration": n}``
(``BaseModel.save_ckpt``). It is read with ``torch.load(weights_only=True)``: tensors and plain
containers only, so a file with code in its pickle is refused rather than run. The state dict is
mapped key by key: the expected OpenGait names are derived from the grewkit model that the widths
describe, and every key must be there, with its shape; a missing, unexpected or misshapen key is
reported by name, the first one in one line.

GaitGraph1/2 keep OpenGait's layout and names under its ``ResGCN.`` prefix, including the graph's adjacency
that each input branch saves (``ResGCN.head.<i>.A``): a checkpoint whose graph differs from grewkit's is refused.

Names differ elsewhere (OpenGait's ``SetBlockWrapper.forward_block`` is grewkit's ``FramewiseConv.module``,
``BasicConv2d.conv``, ``SeparateFCs.fc_bin``, ``downsample``), and two layouts differ:

- GaitPart's temporal feature aggregator keeps one Conv1d stack per part (``conv1d3x1.<p>``);
  grewkit's is one grouped Conv1d whose group p is part p, so the per-part weights are stacked;
- the BNNeck's ``BatchNorm1d`` runs over ``x.view(n, c*p)`` of an ``(n, c, p)`` tensor in OpenGait
  (index ``c*P + p``), over part-major ``(n, p*d)`` in grewkit (index ``p*D + d``).

Widths come from an OpenGait YAML config (``model_cfg``) when one is given, else from the
checkpoint's own shapes. GaitPart's layer types (plain or focal convolution) cannot be read from
weights: without a config, the checkpoint's widths must be one of OpenGait's published layouts.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from grewkit.core.errors import GrewkitError
from grewkit.train.config import TrainConfig
from grewkit.train.data import RESOLUTIONS
from grewkit.train.models import build_model
from grewkit.train.models.gaitpart import CASIAB_LAYERS, GREW_LAYERS

# OpenGait's model class name (model_cfg.model) for each grewkit model that can load its weights.
OPENGAIT_MODELS = {
    "gaitset": "GaitSet",
    "gaitpart": "GaitPart",
    "gaitbase": "Baseline",
    "deepgaitv2": "DeepGaitV2",
    "skeletongait": "DeepGaitV2",
    "gaitgraph": "GaitGraph1",
    "gaitgraph2": "GaitGraph2",
}
# What each model reads (the TrainConfig's modality); the silhouette models read sil<resolution>.
_MODALITY = {"gaitgraph": "pose2d", "gaitgraph2": "pose2d", "skeletongait": "skel{}"}
_GRAPH_STREAMS = {"gaitgraph": (1, 3), "gaitgraph2": (3, 5)}  # input branches and their input channels
_BN_STATS = ("weight", "bias", "running_mean", "running_var")


@dataclass
class Entry:
    """One grewkit tensor and the OpenGait tensors it is made of."""

    grewkit: str
    opengait: list[str]
    shapes: list[tuple]  # the OpenGait shapes, in the order of ``opengait``
    combine: Callable[[list[torch.Tensor]], torch.Tensor]
    separate: Callable[[torch.Tensor], list[torch.Tensor]]  # the inverse: grewkit's tensor -> OpenGait's


def _same(ts):
    return ts[0]


def _stack_parts(ts):
    return torch.cat(ts, 0)


def _unchanged(t):
    return [t]


def _bnneck_from_opengait(parts: int):
    def convert(ts):
        t = ts[0]
        if t.dim() == 0:  # num_batches_tracked
            return t
        return t.reshape(-1, parts).t().reshape(-1)  # (C, P) channel-major -> (P, C) part-major

    return convert


def _bnneck_to_opengait(parts: int):
    def convert(t):
        return [t if t.dim() == 0 else t.reshape(parts, -1).t().reshape(-1)]

    return convert


def _rename(name: str, key: str, model: torch.nn.Module) -> str:
    """The OpenGait name of a grewkit tensor whose layout is the same in both."""
    if name == "gaitset":
        key = re.sub(r"^(set_block\d)\.module\.(\d+)\.weight$", r"\1.forward_block.\2.conv.weight", key)
        key = re.sub(r"^(gl_block\d)\.(\d+)\.weight$", r"\1.\2.conv.weight", key)
        return key.replace("fcs.weight", "Head.fc_bin")
    if name == "gaitpart":
        key = re.sub(
            r"^backbone\.module\.(\d+)\.(?:conv\.)?weight$", r"Backbone.forward_block.feature.\1.conv.weight", key
        )
        return key.replace("fcs.weight", "Head.fc_bin")
    if name in _GRAPH_STREAMS:
        return "ResGCN." + key
    if key == "fcs.weight":
        return "FCs.fc_bin"
    if key == "bnneck.fc":
        return "BNNecks.fc_bin"
    if key.startswith("bnneck.bn."):
        return "BNNecks.bn1d." + key[len("bnneck.bn.") :]
    if name == "gaitbase":
        m = re.match(r"^backbone\.module\.(\d+)\.(.*)$", key)
        index, rest = int(m.group(1)), m.group(2)
        if index == 0:
            return "Backbone.forward_block.conv1.conv." + rest
        if index == 1:
            return "Backbone.forward_block.bn1." + rest
        flat = index - 3  # after the stem's conv, bn and relu come the blocks, stage by stage
        for stage, count in enumerate(model.blocks, start=1):
            if flat < count:
                return f"Backbone.forward_block.layer{stage}.{flat}." + rest.replace("down.", "downsample.")
            flat -= count
        raise AssertionError(key)
    # deepgaitv2
    return key.replace(".module.", ".forward_block.").replace(".down.", ".downsample.")


def mapping(name: str, model: torch.nn.Module) -> list[Entry]:
    """Every tensor of a grewkit model with the OpenGait tensors that make it, in state-dict order."""
    entries = []
    for key, t in model.state_dict().items():
        if name == "gaitpart" and key.startswith("tfa."):
            m = re.match(r"^tfa\.(att3|att5)\.(0|2)\.weight$", key)
            stack = {"att3": "conv1d3x1", "att5": "conv1d3x3"}[m.group(1)]
            parts = model.parts
            keys = [f"TFA.pooling_func.{stack}.{p}.{m.group(2)}.conv.weight" for p in range(parts)]
            entries.append(
                Entry(
                    key,
                    keys,
                    [(t.shape[0] // parts, *t.shape[1:])] * parts,
                    _stack_parts,
                    lambda t, parts=parts: list(t.chunk(parts, 0)),
                )
            )
        elif key.startswith("bnneck.bn."):
            parts = model.bnneck.parts
            entries.append(
                Entry(
                    key,
                    [_rename(name, key, model)],
                    [tuple(t.shape)],
                    _bnneck_from_opengait(parts),
                    _bnneck_to_opengait(parts),
                )
            )
        else:
            entries.append(Entry(key, [_rename(name, key, model)], [tuple(t.shape)], _same, _unchanged))
    return entries


def read_checkpoint(path: str | Path) -> tuple[dict, int]:
    """The model state dict of an OpenGait checkpoint (a bare state dict is accepted too) and its iteration."""
    path = Path(path)
    if not path.is_file():
        raise GrewkitError("no such checkpoint", path=path)
    try:
        # weights_only: tensors and plain containers; a pickle that would build objects or run code is refused.
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise GrewkitError(f"refused: the checkpoint's pickle holds more than tensors ({first})", path=path) from None
    except Exception as exc:  # truncated or foreign files raise many kinds
        raise GrewkitError(f"not a readable checkpoint ({type(exc).__name__}: {str(exc)[:160]})", path=path) from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GrewkitError("not an OpenGait checkpoint: expected {'model': state_dict, ...} of tensors", path=path)
    if all(k.startswith("module.") for k in state):  # saved from a DistributedDataParallel wrapper
        state = {k[len("module.") :]: v for k, v in state.items()}
    iteration = ckpt.get("iteration", 0)
    return state, int(iteration) if isinstance(iteration, int) else 0


def _need(state: dict, key: str, path: Path, name: str) -> torch.Tensor:
    if key not in state:
        raise GrewkitError(f"missing key {key!r}: not an OpenGait {OPENGAIT_MODELS[name]} checkpoint", path=path)
    return state[key]


def _count(state: dict, pattern: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


def args_from_checkpoint(name: str, state: dict, path: Path) -> tuple[dict, int]:
    """grewkit model arguments and class count read from the checkpoint's shapes."""
    if name == "gaitset":
        c = [_need(state, f"set_block{i}.forward_block.0.conv.weight", path, name).shape[0] for i in (1, 2, 3)]
        fc = _need(state, "Head.fc_bin", path, name)
        return {"channels": c, "out_channels": int(fc.shape[2])}, 0
    if name == "gaitpart":
        layers, last = [], -1
        convs = sorted(
            int(m.group(1))
            for k in state
            if (m := re.match(r"^Backbone\.forward_block\.feature\.(\d+)\.conv\.weight$", k))
        )
        if not convs:
            _need(state, "Backbone.forward_block.feature.0.conv.weight", path, name)
        for i in convs:
            if i - last == 3:  # conv, LeakyReLU, then a max pooling before this conv
                layers.append("M")
            layers.append(int(state[f"Backbone.forward_block.feature.{i}.conv.weight"].shape[0]))
            last = i
        fc = _need(state, "Head.fc_bin", path, name)
        for published in (CASIAB_LAYERS, GREW_LAYERS):
            widths = ["M" if s == "M" else int(s.split("-")[1]) for s in published]
            if widths == layers:
                return {"layers": list(published), "out_channels": int(fc.shape[2]), "parts": int(fc.shape[0])}, 0
        raise GrewkitError(
            f"GaitPart layers {layers} are not one of OpenGait's published layouts; give "
            "--opengait-config (plain or focal convolutions cannot be read from the weights)",
            path=path,
        )
    if name in _GRAPH_STREAMS:
        return _graph_args_from_checkpoint(name, state, path), 0
    fc = _need(state, "FCs.fc_bin", path, name)
    classes = int(_need(state, "BNNecks.fc_bin", path, name).shape[2])
    if name == "gaitbase":
        prefix = "Backbone.forward_block.layer{}"
        channels = [int(_need(state, prefix.format(i) + ".0.conv1.weight", path, name).shape[0]) for i in (1, 2, 3, 4)]
        blocks = [_count(state, rf"^Backbone\.forward_block\.layer{i}\.(\d+)\.") for i in (1, 2, 3, 4)]
        return {
            "channels": channels,
            "blocks": blocks,
            "out_channels": int(fc.shape[2]),
            "parts": int(fc.shape[0]),
        }, classes
    p3d = "layer2.0.shortcut3d.weight" in state
    channels = [int(_need(state, "layer0.forward_block.0.weight", path, name).shape[0])]
    blocks = [_count(state, r"^layer1\.forward_block\.(\d+)\.")]
    for i in (2, 3, 4):
        key = f"layer{i}.0.conv1.forward_block.0.weight" if p3d else f"layer{i}.forward_block.0.conv1.weight"
        channels.append(int(_need(state, key, path, name).shape[0]))
        blocks.append(_count(state, rf"^layer{i}\.(\d+)\." if p3d else rf"^layer{i}\.forward_block\.(\d+)\."))
    return {"mode": "p3d" if p3d else "2d", "channels": channels, "blocks": blocks, "parts": int(fc.shape[0])}, classes


def _graph_width(state: dict, prefix: str, path: Path, name: str) -> int:
    # A module's output width: its temporal block's last BatchNorm (bn_up in a bottleneck, bn otherwise).
    key = f"{prefix}.tcn.bn_up.weight" if f"{prefix}.tcn.bn_up.weight" in state else f"{prefix}.tcn.bn.weight"
    return int(_need(state, key, path, name).shape[0])


def _graph_args_from_checkpoint(name: str, state: dict, path: Path) -> dict:
    streams, cin = _GRAPH_STREAMS[name]
    heads = _count(state, r"^ResGCN\.head\.(\d+)\.")
    if heads != streams:
        raise GrewkitError(
            f"{heads} input branches (ResGCN.head.*): OpenGait's {OPENGAIT_MODELS[name]} has {streams}", path=path
        )
    branch = [int(_need(state, "ResGCN.head.0.bn.weight", path, name).shape[0])]
    for i in range(_count(state, r"^ResGCN\.head\.0\.layers\.(\d+)\.")):
        branch.append(_graph_width(state, f"ResGCN.head.0.layers.{i}", path, name))
    main = [branch[-1]]
    for i in range(_count(state, r"^ResGCN\.backbone\.(\d+)\.")):
        main.append(_graph_width(state, f"ResGCN.backbone.{i}", path, name))
    bottleneck = "ResGCN.backbone.0.scn.conv_down.weight" in state
    reduction = 4
    if bottleneck:
        reduction = main[1] // int(state["ResGCN.backbone.0.scn.conv_down.weight"].shape[0])
    fc = _need(state, "ResGCN.fcn.weight", path, name)
    return {
        "input_branch": branch,
        "main_stream": main,
        "num_out": int(fc.shape[0]),
        "block": "Bottleneck" if bottleneck else "Basic",
        "reduction": reduction,
    }


def args_from_config(name: str, path: str | Path) -> tuple[dict, int]:
    """grewkit model arguments and class count from an OpenGait YAML config's ``model_cfg``."""
    import yaml

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
        m = cfg["model_cfg"]
    except FileNotFoundError:
        raise GrewkitError("no such OpenGait config", path=path) from None
    except (yaml.YAMLError, TypeError, KeyError) as exc:
        raise GrewkitError(f"not an OpenGait config with a model_cfg ({type(exc).__name__})", path=path) from None

    def get(*keys, default=None, required=True):
        node = m
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                if required:
                    raise GrewkitError(f"model_cfg.{'.'.join(keys)} is missing", path=path)
                return default
            node = node[k]
        return node

    def expect(value, allowed, what):
        if value != allowed:
            raise GrewkitError(f"model_cfg.{what} = {value!r}: grewkit's {name} builds only {allowed!r}", path=path)

    if get("model") != OPENGAIT_MODELS[name]:
        raise GrewkitError(
            f"model_cfg.model is {get('model')!r}; --model {name} loads OpenGait's {OPENGAIT_MODELS[name]}", path=path
        )
    if name == "gaitset":
        c = list(get("in_channels"))
        expect(c[0], 1, "in_channels[0]")
        expect(get("SeparateFCs", "in_channels"), c[3], "SeparateFCs.in_channels")
        bins = list(get("bin_num"))
        expect(get("SeparateFCs", "parts_num"), 2 * sum(bins), "SeparateFCs.parts_num")
        return {"channels": c[1:4], "out_channels": int(get("SeparateFCs", "out_channels")), "bins": bins}, 0
    if name == "gaitpart":
        expect(get("backbone_cfg", "type"), "Plain", "backbone_cfg.type")
        expect(get("backbone_cfg", "in_channels", default=1, required=False), 1, "backbone_cfg.in_channels")
        parts = int(get("SeparateFCs", "parts_num"))
        expect(list(get("bin_num")), [parts], "bin_num")
        return {
            "layers": list(get("backbone_cfg", "layers_cfg")),
            "out_channels": int(get("SeparateFCs", "out_channels")),
            "parts": parts,
        }, 0
    if name in _GRAPH_STREAMS:
        streams, cin = _GRAPH_STREAMS[name]
        expect(get("joint_format"), "coco", "joint_format")
        expect(int(get("input_num")), streams, "input_num")
        expect(list(get("input_branch"))[0], cin, "input_branch[0]")
        expect(list(get("main_stream"))[-1], 256, "main_stream[-1] (OpenGait's fcn reads 256 channels)")
        return {
            "input_branch": list(get("input_branch")),
            "main_stream": list(get("main_stream")),
            "num_out": int(get("num_class")),
            "block": get("block"),
            "reduction": int(get("reduction")),
            "tta": bool(get("tta", default=True, required=False)),
        }, 0
    classes = int(get("SeparateBNNecks", "class_num"))
    if name == "gaitbase":
        expect(get("backbone_cfg", "type"), "ResNet9", "backbone_cfg.type")
        expect(get("backbone_cfg", "block"), "BasicBlock", "backbone_cfg.block")
        expect(list(get("backbone_cfg", "strides")), [1, 2, 2, 1], "backbone_cfg.strides")
        expect(bool(get("backbone_cfg", "maxpool", default=True, required=False)), False, "backbone_cfg.maxpool")
        expect(get("backbone_cfg", "in_channel", default=1, required=False), 1, "backbone_cfg.in_channel")
        parts = int(get("SeparateFCs", "parts_num"))
        expect(list(get("bin_num")), [parts], "bin_num")
        return {
            "channels": list(get("backbone_cfg", "channels")),
            "blocks": list(get("backbone_cfg", "layers")),
            "out_channels": int(get("SeparateFCs", "out_channels")),
            "parts": parts,
        }, classes
    mode = get("Backbone", "mode")
    if mode not in ("p3d", "2d"):
        raise GrewkitError(f"model_cfg.Backbone.mode = {mode!r}: grewkit's deepgaitv2 builds p3d or 2d", path=path)
    expect(get("Backbone", "in_channels"), 2 if name == "skeletongait" else 1, "Backbone.in_channels")
    expect(bool(get("use_emb2", default=False, required=False)), False, "use_emb2")
    return {
        "mode": mode,
        "channels": list(get("Backbone", "channels")),
        "blocks": list(get("Backbone", "layers")),
    }, classes


def check_and_convert(name: str, model: torch.nn.Module, state: dict, path: Path) -> dict:
    """The grewkit state dict for ``model`` from an OpenGait one; errors name the first bad key."""
    entries = mapping(name, model)
    expected = [k for e in entries for k in e.opengait]
    missing = [k for k in expected if k not in state]
    known = set(expected)
    extra = [k for k in state if k not in known]
    what = f"grewkit's {name} with these widths"
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise GrewkitError(f"missing key {missing[0]!r}{more}, expected by {what}", path=path)
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise GrewkitError(f"unexpected key {extra[0]!r}{more}, not part of {what}", path=path)
    out = {}
    for e in entries:
        for k, shape in zip(e.opengait, e.shapes):
            if tuple(state[k].shape) != shape:
                raise GrewkitError(f"key {k!r} has shape {tuple(state[k].shape)}, {what} expects {shape}", path=path)
        out[e.grewkit] = e.combine([state[k] for k in e.opengait])
    return out


def model_from_opengait(
    checkpoint: str | Path, name: str, *, config: str | Path | None = None, resolution: int = 64
) -> tuple[torch.nn.Module, TrainConfig, int]:
    """A grewkit model in eval mode carrying an OpenGait checkpoint's weights, its TrainConfig and iteration."""
    path = Path(checkpoint)
    if name not in OPENGAIT_MODELS:
        raise GrewkitError(f"--model {name!r} cannot load OpenGait weights; known: {', '.join(OPENGAIT_MODELS)}")
    state, iteration = read_checkpoint(path)
    args, classes = args_from_config(name, config) if config else args_from_checkpoint(name, state, path)
    data = {"resolution": resolution}
    if name in _MODALITY:
        data["modality"] = _MODALITY[name].format(resolution)
    cfg = TrainConfig.from_dict({"model": {"name": name, "args": args}, "data": data}, source=str(config or path))
    h, w = RESOLUTIONS[resolution]
    try:
        model = build_model(name, num_classes=classes, height=h, width=w, **args)
    except (GrewkitError, ValueError) as exc:
        raise GrewkitError(f"cannot build {name} from these widths ({exc})", path=config or path) from None
    converted = check_and_convert(name, model, state, path)
    for key, value in model.state_dict().items():
        # The saved graph must be the one grewkit builds (the backbone uses grewkit's own copy of it).
        if key.endswith(".A") and name in _GRAPH_STREAMS and not torch.allclose(converted[key], value, atol=1e-6):
            raise GrewkitError(
                f"key {_rename(name, key, model)!r} holds another graph than OpenGait's COCO graph", path=path
            )
    model.load_state_dict(converted)
    return model.eval(), cfg, iteration


def to_opengait(name: str, model: torch.nn.Module) -> dict:
    """The state dict OpenGait's model of the same widths would hold: the inverse of the loading map."""
    if name not in OPENGAIT_MODELS:
        raise GrewkitError(f"{name!r} has no OpenGait counterpart; known: {', '.join(OPENGAIT_MODELS)}")
    state = model.state_dict()
    out = {}
    for e in mapping(name, model):
        for key, t in zip(e.opengait, e.separate(state[e.grewkit])):
            out[key] = t.detach().clone().contiguous()
    return out


def save_opengait_checkpoint(checkpoint: str | Path, out: str | Path) -> Path:
    """A checkpoint of `grewkit train` rewritten as OpenGait's ``save_ckpt`` writes one: ``{"model",
    "optimizer", "scheduler", "iteration"}`` with the model's tensors under OpenGait's names."""
    from grewkit.core.atomic import atomic_path
    from grewkit.train.loop import model_from_checkpoint

    model, cfg, state = model_from_checkpoint(checkpoint)
    ckpt = {
        "model": to_opengait(cfg.model.name, model),
        "optimizer": state.get("optimizer", {}),
        "scheduler": state.get("scheduler", {}),
        "iteration": int(state["iteration"]),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save(ckpt, tmp)
    return out
