"""The names of the evaluation conventions, without the code that implements them.

Settings are validated whenever a project is opened, by every command; keeping the names here
lets that happen without importing torch (about a second of start-up) for commands that never
evaluate. The implementations (distances, metrics, search) take their names from here.
"""

DISTANCE_NAMES = ("euclidean", "euclidean_parts", "cosine", "cosine_parts")
NO_MATCH = ("miss", "skip")
EXCLUDE = ("none", "same-camera", "same-view", "same-identity-camera")
TIES = ("pessimistic", "optimistic")

# ``distance = "auto"`` (the [evaluate] default): each protocol's distance as OpenGait computes it for
# that dataset. OpenGait's evaluators (evaluate_indoor_dataset for CASIA-B, evaluate_real_scene and
# GREW_submission, evaluate_Gait3D) all rank by its 'euc' metric, the mean over parts of the
# per-part Euclidean distances, which is euclidean_parts here.
AUTO_DISTANCE = {
    "casiab": "euclidean_parts",
    "grew": "euclidean_parts",
    "grew-distractors": "euclidean_parts",
    "identities": "euclidean_parts",
    "attributes": "euclidean_parts",
    "gait3d": "euclidean_parts",
    "submission": "euclidean_parts",
}


def resolve_distance(distance: str, protocol: str) -> str:
    return AUTO_DISTANCE.get(protocol, "euclidean_parts") if distance == "auto" else distance
