"""Annotation backends: ``base`` is the interface, one module per tool implements it."""

from __future__ import annotations

import importlib

from grewkit.annotate.backends.base import AnnotationBackend
from grewkit.core.errors import GrewkitError


# Backend name -> "module:Class"; another tool adds its line here.
BACKENDS: dict[str, str] = {
    "labelstudio": "grewkit.annotate.backends.labelstudio:LabelStudioBackend",
}


def backend_class(name: str) -> type[AnnotationBackend]:
    if name not in BACKENDS:
        raise GrewkitError(f"unknown annotation backend {name!r}; known: {', '.join(BACKENDS)}")
    module, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
