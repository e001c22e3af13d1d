"""Train/validation/test splits and trained-model records (issue 3)."""

from __future__ import annotations

from replicoder.store.base import Base


class Splits(Base):
    SCHEMA = ""
