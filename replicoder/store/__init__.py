"""study.db: the only code that writes SQL.

Each table group is a mixin with its own ``SCHEMA``; :class:`Store` combines them.
Add a group by writing a module here and listing its class below.
"""

from replicoder.store.annotations import Annotations, Proposal
from replicoder.store.base import Base
from replicoder.store.cache import LlmCache
from replicoder.store.documents import Document, Documents
from replicoder.store.judgements import Judgements
from replicoder.store.orders import Orders
from replicoder.store.reviews import Reviews
from replicoder.store.runs import Runs
from replicoder.store.samples import Samples, StoredSample
from replicoder.store.splits import Splits


class Store(Documents, Annotations, LlmCache, Reviews, Judgements, Splits, Runs, Samples, Orders,
            Base):
    """A connection to a study database with every table group's methods."""


__all__ = ["Document", "Proposal", "Store", "StoredSample"]
