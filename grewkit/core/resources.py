"""Files grewkit ships beside its code: found in a checkout or inside an installed wheel, read with clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from grewkit.core.errors import GrewkitError

_PACKAGE = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The checkout's top-level ``name/`` folder, or its copy ``grewkit/_name`` inside an installed wheel."""
    for candidate in (_PACKAGE.parent / name, _PACKAGE / f"_{name}"):
        if candidate.is_dir():
            return candidate
    raise GrewkitError(f"cannot find the {name} folder (neither the checkout's {name}/ nor grewkit/_{name})")


def read_toml(path: str | Path, *, what: str = "file") -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is one GrewkitError naming the file."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GrewkitError(f"{what} not found", path=path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GrewkitError(f"invalid TOML: {exc}", path=path) from None
