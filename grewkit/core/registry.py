"""One registry type for every swappable part: stages, settings sections, executors, detectors, ...

A ``Registry`` maps names to entries of one family. An entry is either a ``"module:attr"``
string, imported only when that name is asked for, so that a part whose optional dependency is
missing disables itself and nothing else, or the object itself (for parts defined beside their
registry, such as distances and protocols). Each registry says in its own comment what its
entries are and how they are built: that is the family's contract.

Errors a user can meet are ``GrewkitError`` lines: an unknown name lists the known ones, and a
missing optional package names the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from grewkit.core.errors import GrewkitError

T = TypeVar("T")


def resolve(target: str, *, kind: str, name: str) -> Any:
    """Import ``"module:attr"`` and return the attribute; ``kind`` and ``name`` word the errors."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise GrewkitError(f"{kind} {name!r}: {target!r} is not a 'module:attribute' reference")
    entry = f"{kind} {name!r}" if name == target else f"{kind} {name!r} ({target})"
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        package = missing.partition(".")[0]
        if package == module.partition(".")[0] and missing != package:
            # The entry's own package is there but the module it names is not: a wrong entry,
            # not an optional dependency.
            raise GrewkitError(f"{entry}: there is no module {missing}") from None
        raise GrewkitError(f"{kind} {name!r} needs {package}: not installed here") from None
    except ImportError as exc:  # installed but broken (a missing shared library, a wrong version)
        raise GrewkitError(f"{kind} {name!r} cannot be imported: {exc}") from None
    try:
        return getattr(loaded, attr)
    except AttributeError:
        raise GrewkitError(f"{entry}: {module} has no {attr!r}") from None


class Registry(Generic[T]):
    """Names -> entries of one family (``kind`` names the family in messages), in registration order.

    ``name in registry``, ``iter(registry)`` and ``len(registry)`` work on the names and import
    nothing; ``get(name)`` imports and returns the entry.
    """

    def __init__(self, kind: str, entries: Mapping[str, T | str] | None = None):
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        for name, target in (entries or {}).items():
            self.register(name, target)

    def register(self, name: str, target: T | str) -> T | str:
        """Add ``name``: a ``"module:attr"`` string (imported on first ``get``) or the object itself."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered (as {self._entries[name]!r})")
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            if not module or not attr:
                raise ValueError(f"{self.kind} {name!r}: {target!r} is not a 'module:attribute' reference")
        self._entries[name] = target
        return target

    def names(self) -> list[str]:
        return list(self._entries)

    def target(self, name: str) -> T | str:
        """The registered entry as given (the reference string of a lazy entry), without importing it."""
        self.require(name)
        return self._entries[name]

    def get(self, name: str) -> T:
        """The entry called ``name``, imported now if it is a ``"module:attr"`` reference."""
        target = self.target(name)
        if isinstance(target, str):
            return resolve(target, kind=self.kind, name=name)
        return target

    def unknown(self, name: str, *, path: str | Path | None = None) -> GrewkitError:
        """The error for a name that is not registered (to raise, naming ``path`` where a file is involved)."""
        return GrewkitError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries) or 'none'}", path=path)

    def require(self, name: str, *, path: str | Path | None = None) -> None:
        """Raise the unknown-name error unless ``name`` is registered; imports nothing."""
        if name not in self._entries:
            raise self.unknown(name, path=path)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def check_keys(name: str, config: dict, known: set[str]) -> None:
    """Refuse keys a backend kind does not read (a typo would otherwise be ignored silently)."""
    unknown = set(config) - set(known) - {"kind"}
    if unknown:
        raise GrewkitError(f"[{name}] unknown keys {sorted(unknown)}; known: {sorted(known)}")


def build_from_table(kinds: Registry, name: str, config: dict, path: Path, *, threads: int = 1) -> Any:
    """A backend configured by table ``name`` of a TOML file at ``path`` (detectors.toml, pose_estimators.toml):
    ``kinds.get(config["kind"]).from_config(name, config, path.parent, threads)``, with every error naming the file."""
    try:
        return kinds.get(config["kind"]).from_config(name, config, path.parent, threads)
    except GrewkitError as exc:
        if exc.path is None:
            raise GrewkitError(exc.reason, path=path) from None
        raise
    except TypeError as exc:  # a wrong key or value type in the table
        raise GrewkitError(f"[{name}] {exc}", path=path) from None
