"""``grewkit validate`` checks for detections, tracklets and boxes beyond their schemas.

Later stages trust these manifests blindly (render crops by box, annotation shows frames), so
what the schema cannot say is checked here: boxes lie inside their video's frames, boxes have a
positive size, and a tracklet's row agrees with its boxes. One camera partition at a time.
"""

from __future__ import annotations

from grewkit.core import manifests
from grewkit.core.errors import GrewkitError
from grewkit.core.project import Project
from grewkit.core.validate import Problem


def check_boxes(project: Project) -> list[Problem]:
    if not project.has("videos"):
        return []
    frame_count = dict(project.read("videos", ["video_id", "frame_count"]).to_pandas().itertuples(index=False))
    problems: list[Problem] = []
    tracklets = project.read("tracklets", ["tracklet_id", "start_frame", "end_frame", "n_frames"]).to_pandas()
    expected = tracklets.set_index("tracklet_id")
    seen: dict[str, tuple[int, int, int]] = {}
    for name in ("detections", "boxes"):
        for path in manifests.partition_files(project.manifests_dir, name):
            rel = project.relative(path)
            cols = ["video_id", "frame", "x1", "y1", "x2", "y2"] + (["tracklet_id"] if name == "boxes" else [])
            try:
                table = manifests.read_partition(project.manifests_dir, name, path.stem, cols)
            except GrewkitError:
                continue  # the schema checks report unreadable files already
            df = table.to_pandas()
            limit = df.video_id.map(frame_count)
            outside = df[(df.frame < 0) | (limit.notna() & (df.frame >= limit))]
            if len(outside):
                r = outside.iloc[0]
                problems.append(
                    Problem(
                        rel,
                        f"{len(outside)} rows have a frame outside their video, e.g. frame "
                        f"{r.frame} of {r.video_id} ({frame_count.get(r.video_id)} frames)",
                    )
                )
            flat = df[(df.x2 <= df.x1) | (df.y2 <= df.y1)]
            if len(flat):
                problems.append(Problem(rel, f"{len(flat)} boxes have no area (x2 <= x1 or y2 <= y1)"))
            if name == "boxes":
                for tid, g in df.groupby("tracklet_id"):
                    seen[tid] = (int(g.frame.min()), int(g.frame.max()), len(g))
    mismatched = [
        t
        for t, (a, b, n) in seen.items()
        if t in expected.index and tuple(expected.loc[t, ["start_frame", "end_frame", "n_frames"]]) != (a, b, n)
    ]
    if mismatched:
        problems.append(
            Problem(
                project.relative(manifests.manifest_path(project.manifests_dir, "tracklets")),
                f"{len(mismatched)} tracklets disagree with their boxes on start_frame, end_frame "
                f"or n_frames, e.g. {mismatched[0]!r}",
            )
        )
    empty = sorted(set(expected.index) - set(seen))
    if empty and seen:
        problems.append(
            Problem(
                project.relative(manifests.manifest_path(project.manifests_dir, "tracklets")),
                f"{len(empty)} tracklets have no boxes, e.g. {empty[0]!r}",
            )
        )
    return problems
