"""Load pickled numpy arrays without executing anything else a pickle may ask for.

Gait datasets (OpenGait's layout, GREW's pretreated release) ship silhouettes as ``.pkl``
files. A pickle can name any importable callable; plain ``pickle.load`` on a downloaded file
is arbitrary code execution. This unpickler resolves only the few globals that numpy arrays
need and refuses everything else, naming the file and the global it refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from grewkit.core.errors import GrewkitError

# (module, name) pairs a pickled ndarray may reference; numpy 1 and 2 spell the module differently.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # Protocol-2 pickles spell bytes as _codecs.encode(text, "latin1"): a pure function.
    ("_codecs", "encode"),
}


class UnsafePickleError(GrewkitError):
    """A pickle asked for something other than numpy arrays."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise UnsafePickleError(
                f"refused to unpickle {module}.{name}: only numpy arrays are accepted", path=self._path
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafePickleError("refused a persistent id: only numpy arrays are accepted", path=self._path)


def loads_array(data: bytes, *, path: str | Path = "<bytes>") -> np.ndarray:
    """Unpickle ``data`` that must hold a single numpy array (not of object dtype)."""
    path = Path(path)
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or garbled files raise many different errors
        raise GrewkitError(f"not a readable pickle ({type(exc).__name__}: {exc})", path=path) from None
    if not isinstance(obj, np.ndarray):
        raise GrewkitError(f"pickle holds a {type(obj).__name__}, expected a numpy array", path=path)
    if obj.dtype.hasobject:
        raise UnsafePickleError("refused an array of Python objects", path=path)
    return obj


def load_array(path: str | Path) -> np.ndarray:
    """Read a ``.pkl`` file that must hold one numpy array."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GrewkitError(f"cannot read ({exc.strerror})", path=path) from None
    return loads_array(data, path=path)


def dump_array(array: np.ndarray) -> bytes:
    """Pickle an array the way OpenGait's pretreatment does (protocol 4), readable by ``load_array``."""
    if array.dtype.hasobject:
        raise GrewkitError("refusing to pickle an array of Python objects")
    return pickle.dumps(np.ascontiguousarray(array), protocol=4)
