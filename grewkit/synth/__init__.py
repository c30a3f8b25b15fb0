"""``grewkit synth``: synthetic multi-camera walking footage with exact ground truth.

world.py (site, cameras, who walks where), body.py (identities, articulated gait model),
raster.py (primitives and their rasteriser), objects.py (people, cars, dogs, occluders, background),
camera_view.py (one camera's frames and true silhouettes), generate.py (videos, cameras.csv, manifests),
truth.py (reading ground truth, matching tracked output to it, masks on demand), sanity.py (are the
identities told apart by gait alone), annotators.py and answers.py (simulated annotators answering a
campaign from the ground truth, for the demo and the tests).
"""
