"""grewkit: from raw multi-camera footage to a gait-recognition benchmark of the GREW kind."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source of truth: pyproject.toml's [project] version, as installed.
    __version__ = version("grewkit")
except PackageNotFoundError:  # a source tree on PYTHONPATH without an install
    __version__ = "0+unknown"
