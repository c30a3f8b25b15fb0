"""``grewkit run``: the whole pipeline from one settings file, skipping what is done."""
