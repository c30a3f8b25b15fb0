"""Annotation backends: ``base`` is the interface, one module per tool implements it."""

from __future__ import annotations

from grewkit.annotate.backends.base import AnnotationBackend
from grewkit.core.registry import Registry

# Backend name -> "module:Class"; another tool adds its line here. Contract: an
# ``AnnotationBackend`` subclass built as ``cls(url, api_key, document_root=folder)`` (the folder
# the server serves local media from, or None).
BACKENDS: Registry[type[AnnotationBackend]] = Registry(
    "annotation backend",
    {
        "labelstudio": "grewkit.annotate.backends.labelstudio:LabelStudioBackend",
    },
)


def backend_class(name: str) -> type[AnnotationBackend]:
    return BACKENDS.get(name)
