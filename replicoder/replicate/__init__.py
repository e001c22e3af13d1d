"""Replicate a study: freeze it into one archive, reproduce it elsewhere and compare.

- archive: ``freeze``, one deterministic archive (settings, codebook, database, models, runs, lock);
- rerun: ``reproduce``, unpack safely, re-run, compare answers; never runs the archive's code.
"""

from replicoder.replicate.archive import FreezeResult, freeze
from replicoder.replicate.rerun import ReproduceResult, reproduce

__all__ = ["FreezeResult", "ReproduceResult", "freeze", "reproduce"]
