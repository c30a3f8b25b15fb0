"""The ``grewkit`` command line; each stage's command lives beside its stage."""
