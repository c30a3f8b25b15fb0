"""The [split] section of grewkit.toml."""

from __future__ import annotations

from dataclasses import dataclass

from grewkit.core.settings import setting


@dataclass(frozen=True)
class SplitSettings:
    seed: int = setting(0, "Seed of the split: the same seed and manifests give the same split.")
    min_cameras: int = setting(
        2,
        "Identities seen in at least this many cameras are eligible for train/val/test; "
        "the others become distractors (GREW: 2). Use 1 for single-view datasets.",
    )
    camera_disjoint: bool = setting(
        False,
        "Give train, val and test disjoint sets of cameras (GREW does); identities "
        "seen across two groups are left out of the split.",
    )
    ratios: list = setting(
        [20000, 345, 6000], "Relative sizes of train, val and test in identities (GREW: 20,000 / 345 / 6,000)."
    )
    train_identities: int = setting(0, "Exact number of train identities (0: take the ratio).")
    val_identities: int = setting(-1, "Exact number of val identities (-1: take the ratio; 0: no val set).")
    test_identities: int = setting(0, "Exact number of test identities (0: take the ratio).")
    sequences_per_test_identity: int = setting(4, "Sequences each test and val identity contributes (GREW: 4).")
    probes_per_test_identity: int = setting(2, "Of those, how many are probes; the rest are gallery (GREW: 2).")
    allow_unaudited_distractors: bool = setting(
        False,
        "Write distractors from single-camera identities that the annotation campaign has not audited "
        "(shown beside the most similar benchmark identities); off: `grewkit split` refuses them.",
    )
    camera_trials: int = setting(
        32, "Random camera groupings tried when camera_disjoint is on; the one keeping most identities wins."
    )

    def __post_init__(self):
        if (
            len(self.ratios) != 3
            or any(not isinstance(r, (int, float)) or r < 0 for r in self.ratios)
            or sum(self.ratios) <= 0
        ):
            raise ValueError("ratios must be three non-negative numbers (train, val, test) with a positive sum")
        if self.min_cameras < 1:
            raise ValueError("min_cameras must be at least 1")
        if self.train_identities < 0 or self.test_identities < 0 or self.val_identities < -1:
            raise ValueError("identity counts must be >= 0 (val_identities may be -1)")
        if self.sequences_per_test_identity < 2:
            raise ValueError("sequences_per_test_identity must be at least 2 (one probe, one gallery)")
        if not 1 <= self.probes_per_test_identity < self.sequences_per_test_identity:
            raise ValueError("probes_per_test_identity must be at least 1 and leave at least one gallery sequence")
        if self.camera_trials < 1:
            raise ValueError("camera_trials must be at least 1")
