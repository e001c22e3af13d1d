"""Estimate label shares of a classified corpus, with intervals that hold.

- corpus: ``estimate``: read a classified file and the study's verified random sample;
- runs: what ``estimate`` and ``regress`` share: the validation sample, known documents,
  the manifest's fields;
- shares: shares per label and group by PPI, classify-and-count or the sample alone (pure);
- ppi: prediction-powered inference for means (pure numpy, after ppi_py's formulas);
- figure: the shares with their intervals, per method;
- coefficients: ``regress``, regressions on predicted labels corrected by the sample;
- regression: the DSL / PPI++ / naive / sample-only estimators (pure numpy);
- sample_size: ``plan``, how many documents to verify for an interval of a given width;
- coefficient_figure: the coefficients with their intervals, per method.
"""

from replicoder.estimate.coefficients import RegressResult, regress
from replicoder.estimate.corpus import EstimateResult, estimate, share_table
from replicoder.estimate.ppi import poststratify
from replicoder.estimate.sample_size import PlanResult, plan
from replicoder.estimate.shares import Population, Share, Shares, estimate_shares

__all__ = ["EstimateResult", "PlanResult", "Population", "RegressResult", "Share", "Shares",
           "estimate", "estimate_shares", "plan", "poststratify", "regress", "share_table"]
