"""Evaluation: distances, memory-bounded search, metrics (Rank-k, mAP, mINP), protocols, submissions."""
