"""``grewkit export opengait``: the split as OpenGait's dataset layout plus its partition JSON.

Layout ``OUT/<label>/<type>/<view>/<view>.pkl``, each a pickled uint8 array (T, H, W), as
OpenGait's pretreatment writes them. Two layouts:

- ``protocol`` (default): type ``00`` for train sequences, ``01`` for gallery and ``02`` for
  probes of the test (and val) identities, the view folder named by the sequence id. This is
  the layout OpenGait's ``evaluate_real_scene`` expects for dataset_name ``GREW`` (gallery
  ``01``, probe ``02``). Distractors sit under one label (``_distractors``, type ``01``) so they
  enlarge the gallery without matching any probe.
- ``source``: type = the sequence's condition and view = its view (CASIA-B style,
  ``075/nm-05/090``), for datasets whose evaluator reads conditions and views.

``partition.json`` has TRAIN_SET, TEST_SET and PROBE_SET (``<label>-<type>-<view>`` of every
probe, the form OpenGait's ``evaluate_Gait3D`` matches); ``partition_val.json`` the same with
the val identities as TEST_SET.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from grewkit.core.arrays import load_array
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import progress_bar
from grewkit.core.project import Project
from grewkit.core.safe_pickle import dump_array
from grewkit.export.selection import silhouette_modality, split_sequences
from grewkit.export.target import ExportTarget
from grewkit.interop.pixels import check_array
from grewkit.interop.register import safe_id


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()


LAYOUTS = ("protocol", "source")
DISTRACTOR_LABEL = "_distractors"
TYPE_OF_ROLE = {None: "00", "gallery": "01", "probe": "02"}


def write_silhouettes(target: ExportTarget, parts: tuple[str, ...], source, modality: str) -> None:
    """One sequence as OpenGait's pickled uint8 (T, H, W), after the no-RGB check."""
    array = load_array(source)
    check_array(array, modality, source=source)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise GrewkitError(f"OpenGait wants uint8 silhouettes (T, H, W), got {array.dtype} {array.shape}", path=source)
    target.write(parts, dump_array(array))


@dataclass(frozen=True)
class OpenGaitExport:
    sequences: int
    train_labels: int
    test_labels: int
    val_labels: int
    probes: int
    modality: str


def export_opengait(
    project: Project,
    out,
    *,
    layout: str = "protocol",
    modality: str | None = None,
    distractors: bool = True,
    show_progress: bool = True,
) -> OpenGaitExport:
    if layout not in LAYOUTS:
        raise GrewkitError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    sequences = split_sequences(project)
    modality = silhouette_modality(sequences, modality)
    if not distractors:
        sequences = [s for s in sequences if s.split != "distractor"]
    places: dict[tuple[str, str, str], str] = {}
    plan = []
    for s in sequences:
        if s.split == "distractor":
            label = DISTRACTOR_LABEL
        else:
            label = safe_id(s.identity_id)
        if layout == "protocol":
            seq_type = "01" if s.split == "distractor" else TYPE_OF_ROLE[s.role]
            view = safe_id(s.sequence_id)
        else:
            if not s.condition or not s.view:
                raise GrewkitError(
                    f"layout 'source' needs a condition and a view for every sequence; "
                    f"{s.sequence_id!r} lacks one (use --layout protocol)"
                )
            seq_type, view = safe_id(s.condition), safe_id(s.view)
        key = (label, seq_type, view)
        if key in places:
            raise GrewkitError(
                f"sequences {places[key]!r} and {s.sequence_id!r} would share {'/'.join(key)} (use --layout protocol)"
            )
        places[key] = s.sequence_id
        plan.append((s, key))

    target = ExportTarget(out, "opengait")
    with progress_bar("export opengait", total=len(plan), unit="seq", enabled=show_progress) as advance:
        for s, (label, seq_type, view) in plan:
            write_silhouettes(
                target, (label, seq_type, view, f"{view}.pkl"), project.resolve(s.files[modality]), modality
            )
            advance(1)

    def labels(split: str) -> list[str]:
        return sorted({k[0] for s, k in plan if s.split == split})

    def probes(split: str) -> list[str]:
        return sorted("-".join(k) for s, k in plan if s.split == split and s.role == "probe")

    train, test, val = labels("train"), labels("test"), labels("val")
    extra = [DISTRACTOR_LABEL] if any(s.split == "distractor" for s, _ in plan) else []
    target.write(
        ("partition.json",), _json({"TRAIN_SET": train, "TEST_SET": test + extra, "PROBE_SET": probes("test")})
    )
    if val:
        target.write(
            ("partition_val.json",), _json({"TRAIN_SET": train, "TEST_SET": val + extra, "PROBE_SET": probes("val")})
        )
    result = OpenGaitExport(
        sequences=len(plan),
        train_labels=len(train),
        test_labels=len(test),
        val_labels=len(val),
        probes=len(probes("test")),
        modality=modality,
    )
    target.finish({"layout": layout, "modality": modality, "sequences": len(plan)})
    return result
