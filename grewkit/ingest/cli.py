"""``grewkit ingest``: register video files with their cameras, then probe them as units of the runner."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc
from rich.markup import escape

from grewkit.cli.options import executor_options, project_option
from grewkit.cli.stage_command import run_and_report
from grewkit.core.errors import GrewkitError
from grewkit.core.progress import console
from grewkit.core.project import Project
from grewkit.core.schemas import conform, get_schema
from grewkit.ingest.cameras import read_cameras_csv
from grewkit.ingest.stage import STAGE, record_inputs


def expand_inputs(paths: list[Path], extensions: list[str]) -> list[Path]:
    """Files given by name are taken as they are (so a mislabelled one is reported); folders by extension."""
    exts = {e.lower() for e in extensions}
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.suffix.lower() in exts and not p.name.startswith(".") and (p.is_file() or p.is_symlink())
                )
            )
        elif path.exists() or path.is_symlink():
            out.append(path)
        else:
            raise GrewkitError("no such file or folder", path=path)
    return out


def shown(path: Path) -> str:
    """A path as one printable line: bytes that are not UTF-8 appear as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def utf8_names(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files whose names are UTF-8, files whose names are not): manifests and records store names as UTF-8."""
    good, bad = [], []
    for path in paths:
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:
            bad.append(path)
        else:
            good.append(path)
    return good, bad


def register_cameras(project: Project, csv_path: Path) -> list:
    """Merge the cameras of a cameras.csv into the ``cameras`` manifest (same camera_id: the CSV wins)."""
    table, rules = read_cameras_csv(csv_path)
    if project.has("cameras"):
        old = project.read("cameras")
        keep = pc.invert(pc.is_in(old.column("camera_id"), value_set=table.column("camera_id")))
        schema = get_schema("cameras")
        table = pa.concat_tables([conform(old.filter(keep), schema), conform(table, schema)])
    project.write("cameras", table)
    return rules


def ingest(project: Project, paths: list[Path], *, cameras: Path | None) -> int:
    """Record cameras and files for the ingest stage; return how many files were listed."""
    rules = register_cameras(project, cameras) if cameras is not None else []
    if cameras is None and not project.has("cameras"):
        raise GrewkitError("no cameras registered in this project: give --cameras cameras.csv", path=project.root)
    files, bad = utf8_names(expand_inputs(paths, project.settings.section("ingest").extensions))
    for path in bad:
        console.print(
            f"{escape(shown(path))}: not ingested: its name is not valid UTF-8 (rename it)",
            highlight=False,
            markup=True,
        )
    record_inputs(project, files, rules)
    return len(files)


@click.command("ingest")
@click.argument("paths", metavar="VIDEOS_OR_FOLDERS", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--cameras",
    "cameras",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="cameras.csv: camera_id plus optional schema columns, 'pattern' and 'start_time'. "
    "Needed unless the project already has cameras (e.g. from `grewkit synth`).",
)
@project_option
@executor_options
@click.option(
    "--retry-failed/--skip-failed",
    default=None,
    help="Retry files that failed before (default: [executor] retry_failed).",
)
@click.option("--strict", is_flag=True, help="Exit with status 3 when any file failed.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def ingest_command(paths, cameras, project, executor_kind, workers, address, retry_failed, strict, quiet):
    """Register videos with their cameras: probed fps, frame count, size, resolution, start time, checksum.

    Each file becomes one unit: corrupt, truncated, zero-length, unreadable or mislabelled files are
    recorded as failed with the reason (see `grewkit status`) while the others proceed. Ingesting the
    same unchanged file again does nothing. Without VIDEOS_OR_FOLDERS, the files listed before are
    checked again (e.g. after fixing cameras.csv).

    \b
    Examples:
      grewkit ingest footage/ --cameras cameras.csv
      grewkit ingest media/synth            # cameras registered by `grewkit synth`
      grewkit ingest cam01_2024-05-01T083000.avi --cameras cameras.csv --strict
    """
    n = ingest(project, list(paths), cameras=cameras)
    if paths:
        console.print(f"listed {n} video file(s)", highlight=False)
    run_and_report(
        project,
        STAGE,
        executor_kind=executor_kind,
        workers=workers,
        address=address,
        retry_failed=retry_failed,
        strict=strict,
        show_progress=not quiet,
    )
