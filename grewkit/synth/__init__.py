"""``grewkit synth``: synthetic multi-camera walking footage with exact ground truth.

world.py (site, cameras, who walks where), body.py (identities, articulated gait model),
render.py (frames and true silhouettes), generate.py (videos, cameras.csv, manifests),
truth.py (reading ground truth, matching tracked output to it, masks on demand).
"""
