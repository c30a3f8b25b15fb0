"""Where the benchmarks find the real test data (``../shared/data`` beside a checkout)."""

from __future__ import annotations

from pathlib import Path

import click

from grewkit.core.errors import GrewkitError

SHARED_DATA_OPTION = click.option(
    "--shared-data",
    "data",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("../shared/data"),
    envvar="GREWKIT_SHARED_DATA",
    show_default=True,
    help="Folder with tud_campus/ and vtest.avi (env GREWKIT_SHARED_DATA).",
)


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise GrewkitError(f"{what} not found (give --shared-data or set GREWKIT_SHARED_DATA)", path=path)
    return path
