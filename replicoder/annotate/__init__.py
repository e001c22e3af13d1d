"""Annotate: LLM annotators propose codebook labels, cached, resumable and reproducible.

Modules: config ([[annotators]] in replicoder.toml), prompts (Jinja templates), parse
(answers to labels), backends (OpenAI-compatible HTTP, local Hugging Face), jobs (requests
and cache keys), runner (annotate, annotate_texts), plan (--plan), ratelimit, scoring
(local models answer by scoring the codebook), budget (--max-cost), structured (JSON schema
of the codes), batch (--batch), check (annotate check), repeats (--repeats, stability).
"""

from replicoder.annotate.agreement import agreement_table
from replicoder.annotate.config import AnnotatorConfig, add_annotator, load_annotators
from replicoder.annotate.planning import PlanRow, plan
from replicoder.annotate.runner import AnnotateSummary, AnnotatorSummary, annotate, annotate_texts
from replicoder.labels.parse import Parsed, parse_answer

__all__ = [
    "AnnotateSummary",
    "AnnotatorConfig",
    "AnnotatorSummary",
    "Parsed",
    "PlanRow",
    "add_annotator",
    "agreement_table",
    "annotate",
    "annotate_texts",
    "load_annotators",
    "parse_answer",
    "plan",
]
