"""``grewkit track``."""

from grewkit.cli.stage_command import stage_command

track_command = stage_command("track", """ByteTrack per video into tracklets and per-frame boxes, then quality filters.

Tracklets that are too short, too small, truncated at the frame border, too occluded or too
static to be walking are kept in the manifests with kept = false and the reasons in
filter_reason. Tracklet ids (<video_id>-t00001, ...) are the same on every rerun.

\b
Examples:
  grewkit track --project demo
  grewkit status --project demo
""")
