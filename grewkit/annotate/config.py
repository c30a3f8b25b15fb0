"""The labelling config of an identity-linking campaign, rendered from ``annotation/identity_link.xml``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from grewkit.core.errors import GrewkitError
from grewkit.core.resources import shipped_dir

TEMPLATE_NAME = "identity_link.xml"
_BLOCK = re.compile(r"<!-- CANDIDATE-BEGIN -->(.*?)<!-- CANDIDATE-END -->", re.S)
# Control names that resolve.py reads back from the results.
ATTRIBUTES = ("gender", "age_group", "carrying", "upper", "lower", "quality")
LINK_CHOICES = ("same", "different", "unsure")


def template_path() -> Path:
    """The checkout's ``annotation/`` folder (the file also ships inside the wheel as grewkit/_annotation)."""
    path = shipped_dir("annotation") / TEMPLATE_NAME
    if not path.is_file():
        raise GrewkitError(f"cannot find the labelling config template {TEMPLATE_NAME}", path=path.parent)
    return path


def render_config(k: int, template: str | None = None) -> str:
    """The XML for K candidate slots: the candidate block is repeated with ``$i`` = 1..K."""
    text = template if template is not None else template_path().read_text(encoding="utf-8")
    match = _BLOCK.search(text)
    if not match:
        raise GrewkitError("labelling config template has no CANDIDATE-BEGIN/END block", path=template_path())
    block = match.group(1)
    slots = "".join(_slot(block, i) for i in range(1, k + 1))
    return text[: match.start()] + slots + text[match.end() :]


# Keyboard shortcuts per candidate slot i (1-9): "i" for same, "shift+i" for different,
# "alt+shift+i" for unsure, so the digit names the candidate whatever the answer. Letters are left
# alone: Label Studio binds some (u, and its image tools' b, e, h, k, m, o, p, r, v, w), and
# ctrl/alt+digit switch tabs in Chromium. Slots past nine have no digit left and no shortcut.
HOTKEYS = {"same": "{i}", "different": "shift+{i}", "unsure": "alt+shift+{i}"}


def _slot(block: str, i: int) -> str:
    for choice, key in HOTKEYS.items():
        attribute = f' hotkey="{key.format(i=i)}"' if i <= 9 else ""
        block = block.replace(f"$hotkey_{choice}", attribute)
    return block.replace("$i", str(i))


def config_hash(xml: str) -> str:
    return hashlib.sha256(xml.encode()).hexdigest()[:12]
