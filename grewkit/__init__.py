"""grewkit: from raw multi-camera footage to a gait-recognition benchmark of the GREW kind."""

__version__ = "0.1.0"
