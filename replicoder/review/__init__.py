"""Human review of LLM proposals: the web app, assignments, agreement, adjudication, export.

The web app itself (``replicoder.review.app.create_app``) loads FastAPI; it is started
with ``serve``.
"""

from replicoder.review.acceptance import acceptance_data, acceptance_rates
from replicoder.review.adjudication import adjudicate, coder_agreement, disagreements
from replicoder.review.assignment import assign, parse_coders
from replicoder.review.export import export_verified
from replicoder.review.replay import import_proposals
from replicoder.review.server import serve

__all__ = ["acceptance_data", "acceptance_rates", "adjudicate", "assign", "coder_agreement",
           "disagreements", "export_verified", "import_proposals", "parse_coders", "serve"]
