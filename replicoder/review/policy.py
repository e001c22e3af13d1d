"""Review rules a study may set on purpose in replicoder.toml (``[review]``).

``party_adjudication = true`` lets a coder who decided a document adjudicate its
disagreement (off by default: only a third coder may). The export's manifest says whether
it was on and how many verified documents a party adjudicated.
"""

from __future__ import annotations

from replicoder.errors import ReplicoderError
from replicoder.store import Store
from replicoder.study import CONFIG, Study

__all__ = ["PARTY_ADJUDICATION", "party_adjudicated", "party_adjudication"]

PARTY_ADJUDICATION = "party_adjudication"


def party_adjudication(study: Study) -> bool:
    """Whether the study lets a party to a disagreement adjudicate it."""
    value = study.config.get("review", {}).get(PARTY_ADJUDICATION, False)
    if not isinstance(value, bool):
        raise ReplicoderError(f"{study.root / CONFIG}: [review] {PARTY_ADJUDICATION} = "
                              f"{value!r}: write true or false")
    return value


def party_adjudicated(store: Store) -> list[str]:
    """Documents whose latest adjudication was made by one of their own coders."""
    by_doc = store.decisions_by_doc()
    return sorted(doc_id for doc_id, adj in store.adjudications().items()
                  if adj.adjudicator in by_doc.get(doc_id, {}))
