"""OpenGait's dataset layout: ``ROOT/<id>/<type>/<view>/<view>.pkl``, each a uint8 array (T, H, W)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError
from grewkit.core.safe_pickle import load_array


@dataclass(frozen=True)
class OpenGaitSequence:
    """One sequence folder of an OpenGait-layout dataset."""

    identity: str
    type: str
    view: str
    folder: Path

    @property
    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.pkl"))

    def load(self) -> np.ndarray:
        """The sequence's silhouettes: the first pickle of the folder, checked to be (T, H, W) uint8.

        Every other pickle of the folder is read through the restricted unpickler too, before the
        sequence counts as readable: OpenGait's loader opens them all, so one hostile file anywhere in
        the folder must stop the import, not only one in first place.
        """
        files = self.files
        if not files:
            raise GrewkitError("no .pkl file in the sequence folder", path=self.folder)
        array = load_array(files[0])
        if array.ndim != 3 or array.dtype != np.uint8:
            raise GrewkitError(f"expected a uint8 array (T, H, W), got {array.dtype} {array.shape}", path=files[0])
        for other in files[1:]:
            load_array(other)
        return array


def find_root(path: str | Path) -> Path:
    """The folder whose children are identity folders; accepts a parent with a single wrapper folder (e.g. ``subset/``)."""
    path = Path(path)
    if not path.is_dir():
        raise GrewkitError("not a folder", path=path)
    children = [c for c in path.iterdir() if c.is_dir()]
    if len(children) == 1 and not any(children[0].glob("*/*/*.pkl")) and any(children[0].glob("*/*/*/*.pkl")):
        return children[0]
    return path


def iter_sequences(root: str | Path) -> Iterator[OpenGaitSequence]:
    """Every ``<id>/<type>/<view>/`` folder holding a pickle, in sorted order."""
    root = find_root(root)
    found = False
    for identity in sorted(p for p in root.iterdir() if p.is_dir()):
        for seq_type in sorted(p for p in identity.iterdir() if p.is_dir()):
            for view in sorted(p for p in seq_type.iterdir() if p.is_dir()):
                if any(view.glob("*.pkl")):
                    found = True
                    yield OpenGaitSequence(identity.name, seq_type.name, view.name, view)
    if not found:
        raise GrewkitError("no <id>/<type>/<view>/*.pkl sequences found (is this OpenGait's layout?)", path=root)


@dataclass(frozen=True)
class PartitionEntry:
    """One sequence as OpenGait's dataset would list it: [label, type, view, files]."""

    label: str
    type: str
    view: str
    files: tuple[Path, ...]


def read_partition(root: str | Path, partition_file: str | Path, *, training: bool) -> list[PartitionEntry]:
    """The sequences OpenGait's dataset parser would read for one phase, following its rules.

    Those rules (OpenGait ``opengait/data/dataset.py``): labels are the names listed in the
    root, kept only when in ``TRAIN_SET`` (training) or ``TEST_SET`` (testing), in the
    partition's order; types, views and files are listed sorted; every file of a view folder is
    a ``.pkl`` to load, and the files of one sequence have the same length. Files are read here
    with the restricted unpickler, so a refused or inconsistent export shows up before
    OpenGait sees it.
    """
    import json

    root = Path(root)
    try:
        partition = json.loads(Path(partition_file).read_text())
        wanted = partition["TRAIN_SET" if training else "TEST_SET"]
    except (OSError, ValueError, KeyError) as exc:
        raise GrewkitError(f"not an OpenGait partition file ({exc})", path=partition_file) from None
    present = {p.name for p in root.iterdir()}
    out: list[PartitionEntry] = []
    for label in (lab for lab in wanted if lab in present):
        for seq_type in sorted(p.name for p in (root / label).iterdir()):
            for view in sorted(p.name for p in (root / label / seq_type).iterdir()):
                files = tuple(sorted((root / label / seq_type / view).iterdir()))
                if not files:
                    continue
                lengths = set()
                for f in files:
                    if f.suffix != ".pkl":
                        raise GrewkitError("OpenGait's loader only reads .pkl files", path=f)
                    lengths.add(len(load_array(f)))
                if len(lengths) != 1 or 0 in lengths:
                    raise GrewkitError(
                        f"files of one sequence must have the same non-zero length, got {sorted(lengths)}",
                        path=root / label / seq_type / view,
                    )
                out.append(PartitionEntry(label, seq_type, view, files))
    return out
