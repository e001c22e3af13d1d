"""Data that ship with replicoder or that it knows how to read.

- bills: the shipped sample of 1,000 CAP-coded US bill titles, as a ready study;
- flourishing: the seed paper's human-flourishing replication files, replayed as a study.
"""

from replicoder.datasets.bills import SAMPLE, sample_path, sample_study
from replicoder.datasets.flourishing import recipe, replay

__all__ = ["SAMPLE", "recipe", "replay", "sample_path", "sample_study"]
