"""Training gait models (GEINet, GaitSet, GaitPart, GaitBase) and extracting their features."""
