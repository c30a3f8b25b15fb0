"""Helpers several test modules share (tests/ is on sys.path, see conftest.py)."""

from __future__ import annotations

import subprocess
import sys


def grewkit(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    """The command line as a user runs it: a fresh ``python -m grewkit`` process, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "grewkit", *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def manifest_bytes(project) -> dict[str, bytes]:
    """Every manifest file of a project by its path under ``manifests/``: equal dicts mean byte-identical runs."""
    root = project.root / "manifests"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def set_option(project, section: str, key: str, value: str) -> None:
    """Rewrite one ``key = value`` line of a section in the project's grewkit.toml (value as TOML text)."""
    lines = project.settings_path.read_text().splitlines()
    start = lines.index(f"[{section}]")
    for i in range(start + 1, len(lines)):
        if lines[i].startswith(f"{key} = "):
            lines[i] = f"{key} = {value}"
            break
    else:
        raise AssertionError(f"no {key} in [{section}]")
    project.settings_path.write_text("\n".join(lines) + "\n")


def vtest_slice(project, shared_data, folder):
    """Register the first 40 frames of vtest.avi (detected at stride 2) as camera ``pets`` of ``project``."""
    from grewkit.ingest.cli import ingest

    folder.mkdir()
    (folder / "pets_view1.avi").symlink_to(shared_data / "vtest.avi")
    (folder / "cameras.csv").write_text("camera_id,view,width,height\npets,elevated,768,576\n")
    set_option(project, "detect", "max_frames", "40")
    set_option(project, "detect", "stride", "2")
    # The gaps this slice was checked with, 10 and 6 frames of vtest.avi's 10 fps: the defaults are those
    # frame counts at TUD-Campus's 25 fps, where a 2-stride 10 fps track is cut at every missed detection.
    set_option(project, "track", "max_gap_seconds", "1.0")
    set_option(project, "track", "cut_gap_seconds", "0.6")
    ingest(project, [folder], cameras=folder / "cameras.csv")
    return project


def schema_table(name: str, rows: list[dict]):
    """Rows as a table of manifest ``name``'s schema, unnamed columns null."""
    from grewkit.core.schemas import get_schema

    return get_schema(name).table_of(rows)
