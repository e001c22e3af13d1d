"""Metrics: the paper's label-set metrics, graded metrics, paired comparisons and agreement.

Pure numpy, no torch, no I/O.

- labelsets: subset accuracy, Hamming loss, Jaccard, F1, per-label rates, bootstrap intervals
  (its names are also this package's names: ``replicoder.metrics.evaluate``);
- graded: the paper's accD, accI, FN and FP for labels with an intensity;
- paired: two models on the same documents, a difference with a paired bootstrap interval;
- agreement: Cohen's kappa, Krippendorff's alpha, MASI, share of full agreement.
"""

from replicoder.metrics.labelsets import (
    HEADLINE,
    bootstrap_ci,
    check_sizes,
    evaluate,
    headline,
    indicator,
    per_document,
    per_label,
    resample_counts,
)

__all__ = ["HEADLINE", "bootstrap_ci", "check_sizes", "evaluate", "headline", "indicator",
           "per_document", "per_label", "resample_counts"]
