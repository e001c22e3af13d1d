"""Human review of LLM proposals: the web app, assignments, agreement, adjudication, export."""
