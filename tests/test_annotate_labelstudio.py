"""The Label Studio client: the official label-studio-sdk, installed without its second cv2.

No server here (the round trips are in test_annotate_server.py): these check the install rule,
how keys are told apart and refused, and that errors name the call but never the key.
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

import pytest

from grewkit.annotate.backends.base import ServerUnavailable
from grewkit.annotate.backends.labelstudio import LabelStudioClient
from grewkit.annotate.server import free_port
from grewkit.core.errors import GrewkitError


def test_the_sdk_is_the_servers_version_without_its_opencv_pin():
    # label-studio 1.23.2 pins label-studio-sdk 2.1.2, which declares opencv-python-headless<4.13:
    # `make setup` installs it --no-deps, so no second cv2 distribution comes with it.
    assert version("label-studio-sdk") == "2.1.2"
    with pytest.raises(PackageNotFoundError):
        version("opencv-python-headless")
    from label_studio_sdk.base_client import LabelStudioBase

    client = LabelStudioClient("http://127.0.0.1:9/", "0123456789abcdef" * 2)
    assert isinstance(client.sdk, LabelStudioBase) and client.url == "http://127.0.0.1:9"


def test_an_unreachable_server_is_reported_by_call_without_the_key():
    key = "f" * 40
    client = LabelStudioClient(f"http://127.0.0.1:{free_port()}", key)
    with pytest.raises(ServerUnavailable) as caught:
        client.call("list projects", client.sdk.projects.list)
    assert "list projects" in str(caught.value) and "cannot reach" in str(caught.value)
    assert key not in str(caught.value) and key not in repr(client)


def test_keys_missing_or_expired_are_refused_without_echoing_them():
    import jwt

    with pytest.raises(GrewkitError, match="no Label Studio API key"):
        LabelStudioClient("http://127.0.0.1:9", "")
    # A personal access token is a JWT refresh token; an expired one is refused before any request.
    expired = jwt.encode(
        {"token_type": "refresh", "exp": int(time.time()) - 60, "user_id": 1}, "s" * 32, algorithm="HS256"
    )
    with pytest.raises(GrewkitError, match="refused") as caught:
        LabelStudioClient("http://127.0.0.1:9", expired)
    assert expired not in str(caught.value)


def test_project_titles_fit_label_studio_and_stay_distinct():
    from grewkit.annotate.backends.labelstudio import TITLE_MAX, project_title

    assert project_title("campus / identity-linking") == "grewkit: campus / identity-linking"
    long_a = "a-project-named-after-the-whole-lab-and-its-site / identity-linking"
    long_b = "a-project-named-after-the-whole-lab-and-its-site / identity-linking-2"
    titles = [project_title(n) for n in (long_a, long_b, "x" * 500)]
    assert all(len(t) <= TITLE_MAX for t in titles)
    assert len(set(titles)) == 3 and project_title(long_a) == titles[0]
    assert titles[0].startswith("grewkit: a-proj") and "identity-linking" in titles[0]


def test_every_candidate_slot_has_its_own_keys_up_to_nine():
    import re
    import xml.dom.minidom

    from grewkit.annotate.config import render_config

    xml_text = render_config(10)
    xml.dom.minidom.parseString(xml_text)  # still well-formed XML
    keys = re.findall(r'<Choice value="(same|different|unsure)"(?: hotkey="([^"]*)")?/>', xml_text)
    assert len(keys) == 30
    given = [k for _, k in keys if k]
    assert len(given) == 27 and len(set(given)) == 27  # no key answers two choices
    assert keys[3:6] == [("same", "2"), ("different", "shift+2"), ("unsure", "alt+shift+2")]
    assert all(not k for _, k in keys[27:])  # slot 10: no single digit left
