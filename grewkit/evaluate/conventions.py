"""The names of the evaluation conventions, without the code that implements them.

Settings are validated whenever a project is opened, by every command; keeping the names here
lets that happen without importing torch (about a second of start-up) for commands that never
evaluate. The implementations (distances, metrics, search) take their names from here.
"""

DISTANCE_NAMES = ("euclidean", "euclidean_parts", "cosine", "cosine_parts")
NO_MATCH = ("miss", "skip")
EXCLUDE = ("none", "same-camera", "same-view")
TIES = ("pessimistic", "optimistic")
