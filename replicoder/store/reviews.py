"""Human review decisions and coder assignments (issue 5)."""

from __future__ import annotations

from replicoder.store.base import Base


class Reviews(Base):
    SCHEMA = ""
