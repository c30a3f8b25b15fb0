"""Stage settings: typed dataclasses, one per section of a project's ``grewkit.toml``.

Each stage declares its settings as a dataclass whose fields carry a default and a one-line
``help``; ``SECTIONS`` maps a section name to that class. ``grewkit init`` writes every
section with its defaults and help as comments; loading checks every key and type, so a
typo is an error naming the file and the key instead of a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grewkit.core.errors import GrewkitError
from grewkit.core.registry import Registry
from grewkit.core.resources import read_toml


def setting(default: Any, help: str, **kwargs) -> Any:
    """A dataclass field with a default and a help line that ``grewkit init`` writes as a comment."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: json.loads(json.dumps(default)), metadata={"help": help}, **kwargs)
    return field(default=default, metadata={"help": help}, **kwargs)


@dataclass(frozen=True)
class ProjectSettings:
    name: str = setting("grewkit-project", "Name of the dataset being built.")


@dataclass(frozen=True)
class ExecutorSettings:
    kind: str = setting("local", "Where per-unit stages run: 'local' (process pool) or 'serial' (this process).")
    workers: int = setting(2, "Worker processes of the local executor.")
    retry_failed: bool = setting(True, "Retry units that failed in an earlier run.")
    ray_address: str = setting("", "Ray cluster address for kind = 'ray' ('' starts a local Ray with `workers` CPUs).")
    ray_max_retries: int = setting(
        2, "Times Ray reruns a unit whose worker died before the unit is recorded as failed."
    )
    resources: dict = setting(
        {}, "Per-stage task resources on Ray, e.g. { render = { num_cpus = 1 }, detect = { num_gpus = 0.25 } }."
    )

    def __post_init__(self):
        if self.workers < 1:
            raise ValueError(f"workers = {self.workers}: at least 1 worker is needed")


# Section name -> "module:Class", in the order ``grewkit init`` writes them. Contract: a frozen
# dataclass whose fields are built with ``setting()``, constructed as ``cls(**values)`` from the
# section's table. Import is lazy so that a stage whose optional dependencies are missing does not
# break the others.
SECTIONS: Registry[type] = Registry(
    "section",
    {
        "project": "grewkit.core.settings:ProjectSettings",
        "executor": "grewkit.core.settings:ExecutorSettings",
        "synth": "grewkit.synth.world:SynthConfig",
        "ingest": "grewkit.ingest.settings:IngestSettings",
        "detect": "grewkit.detect.settings:DetectSettings",
        "track": "grewkit.track.settings:TrackSettings",
        "annotate": "grewkit.annotate.settings:AnnotateSettings",
        "render": "grewkit.render.settings:RenderSettings",
        "split": "grewkit.split.settings:SplitSettings",
        "evaluate": "grewkit.evaluate.settings:EvaluateSettings",
        "run": "grewkit.pipeline.settings:RunSettings",
    },
)


def section_class(name: str) -> type:
    return SECTIONS.get(name)


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if annotation in ("str", str):
        return isinstance(value, str)
    if annotation in ("bool", bool):
        return isinstance(value, bool)
    if annotation in ("int", int):
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in ("float", float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list or (isinstance(annotation, str) and annotation.startswith("list")):
        return isinstance(value, list)
    if origin is dict or (isinstance(annotation, str) and annotation.startswith("dict")):
        return isinstance(value, dict)
    return True


def _type_name(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))


def build_section(name: str, values: dict[str, Any], path: Path) -> Any:
    cls = section_class(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key in getattr(cls, "RENAMED", {}):
            raise GrewkitError(f"[{name}] {key} is no longer a setting: use {cls.RENAMED[key]}", path=path)
        if key not in fields:
            raise GrewkitError(f"[{name}] has no setting {key!r}; known: {', '.join(fields)}", path=path)
        if not _type_ok(value, fields[key].type):
            raise GrewkitError(
                f"[{name}] {key} = {value!r} should be of type {_type_name(fields[key].type)}", path=path
            )
    kwargs = {k: (float(v) if fields[k].type in ("float", float) else v) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise GrewkitError(f"[{name}] {exc}", path=path) from None


class Settings:
    """All sections of one project's settings, validated on load."""

    def __init__(self, raw: dict[str, Any], path: Path):
        self.path = path
        self._raw = raw
        self._built: dict[str, Any] = {}
        for name, values in raw.items():
            SECTIONS.require(name, path=path)
            if not isinstance(values, dict):
                raise GrewkitError(f"{name!r} must be a [section] table", path=path)
            self._built[name] = build_section(name, values, path)

    @classmethod
    def load(cls, path: Path) -> Settings:
        return cls(read_toml(path, what="settings file"), path)

    def section(self, name: str) -> Any:
        """The settings of one section; sections absent from the file take their defaults."""
        SECTIONS.require(name)
        if name not in self._built:
            self._built[name] = build_section(name, {}, self.path)
        return self._built[name]

    def raw(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._raw))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def default_toml(project_name: str) -> str:
    """The settings file ``grewkit init`` writes: every section, every default, every help line."""
    lines = ["# grewkit project settings. Every key is shown with its default; edit what you need.", ""]
    for name in SECTIONS:
        cls = section_class(name)
        lines.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if name == "project" and f.name == "name":
                value = project_name
            help_text = f.metadata.get("help")
            if help_text:
                lines.append(f"# {help_text}")
            lines.append(f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def update_settings(path: Path, section: str, values: dict[str, Any]) -> list[str]:
    """Write ``values`` into ``[section]`` of a settings file, keeping every other line (comments included),
    so that a command-line option stays in the project and a rerun without it does the same.

    The result is validated as a whole before the file is replaced (atomically); returns the
    ``key = value`` lines that changed. A value that fails validation leaves the file untouched.
    """
    import tomllib

    from grewkit.core.atomic import write_text

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    changed = []
    header = f"[{section}]"
    if header not in (line.strip() for line in lines):
        lines += ["", header]
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for key, value in values.items():
        text = f"{key} = {_toml_value(value)}"
        at = next((i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == key), None)
        if at is None:
            # After the section's last line, before the blank lines that separate it from the next.
            last = max([start] + [i for i in range(start + 1, end) if lines[i].strip()])
            lines.insert(last + 1, text)
            end += 1
        elif lines[at].strip() == text:
            continue
        else:
            lines[at] = text
        changed.append(text)
    if changed:
        text = "\n".join(lines) + "\n"
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GrewkitError(f"not valid TOML after setting {', '.join(changed)}: {exc}", path=path) from None
        Settings(raw, Path(path))  # a bad value is refused here, before the file changes
        write_text(path, text)
    return changed
