"""``grewkit doctor --project P``: can this machine run what that project's settings ask for."""

from __future__ import annotations

import importlib

from grewkit.core.doctor import Check
from grewkit.core.errors import GrewkitError


def project_checks(project) -> list[Check]:
    """The project's settings load, and the detector and pose estimator they name exist and import here
    (nothing is run)."""
    checks = [Check("project", True, f"{project.root}: settings valid")]
    checks.append(_detector_check(project))
    checks.append(_pose_check(project))
    return checks


def _pose_check(project) -> Check:
    from grewkit.render.pose_estimators import KINDS, MEDIAPIPE, estimator_table, estimators_path

    settings = project.settings.section("render")
    name = f"pose estimator [{settings.pose_estimator}]"
    if settings.pose_estimator == MEDIAPIPE:
        return Check(name, True, "built in (BlazePose)")
    try:
        table = estimator_table(settings.pose_estimator, settings.pose_estimators_file)
    except GrewkitError as exc:
        return Check(name, False, str(exc))
    module = KINDS[table["kind"]].partition(":")[0]
    try:
        importlib.import_module(module)
    except Exception as exc:  # an optional backend may fail to import in many ways
        return Check(name, False, f"kind {table['kind']!r}: {module} not importable: {type(exc).__name__}: {exc}")
    where = estimators_path(settings.pose_estimators_file)
    return Check(name, True, f"kind {table['kind']!r} from {where}")


def _detector_check(project) -> Check:
    from grewkit.detect.registry import KINDS, backends_path, load_backends

    settings = project.settings.section("detect")
    name = f"detector [{settings.backend}]"
    try:
        path = backends_path(settings.backends_file)
        backends = load_backends(path)
    except GrewkitError as exc:
        return Check(name, False, str(exc))
    if settings.backend not in backends:
        return Check(name, False, f"not defined in {path}; defined: {', '.join(backends)}")
    kind = backends[settings.backend]["kind"]
    module = KINDS[kind].partition(":")[0]
    try:
        importlib.import_module(module)
    except Exception as exc:  # an optional backend may fail to import in many ways
        return Check(name, False, f"kind {kind!r}: {module} not importable: {type(exc).__name__}: {exc}")
    return Check(name, True, f"kind {kind!r} from {path}")
