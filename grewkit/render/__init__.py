"""The render stage: silhouettes, GEIs, optical flow, 2D/3D poses per kept tracklet."""
