"""Labels: the codebook, graded labels (code and intensity) and reading LLM answers into labels.

Pure logic: no I/O beyond reading a codebook file, no torch.

- codebook: the labels a study codes, loaded from YAML with line-precise validation;
- graded: labels with an intensity from the codebook's ordered scale (``code:level``);
- parse: an answer read into codebook labels (plain or graded, one path);
- prompts: the codebook shown to an LLM (sandboxed Jinja templates, built in or a study's);
- answer_text: what the answer readers share (the result type, the codebook index, JSON).
"""

from replicoder.labels.answer_text import Parsed
from replicoder.labels.codebook import BUILTIN, Codebook, Label
from replicoder.labels.graded import GRADE_SEP
from replicoder.labels.parse import parse_answer

__all__ = ["BUILTIN", "GRADE_SEP", "Codebook", "Label", "Parsed", "parse_answer"]
