"""The figure of `replicoder estimate regress`: one panel per coefficient (the intercept
left out), a dot and interval per method, the methods side by side."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from replicoder.estimate.figure import _save, plt

__all__ = ["STYLE", "coefficients_figure"]

STYLE = {  # method -> colour, marker, label
    "dsl": ("#1f5fa8", "o", "DSL (model + verified sample)"),
    "ppi": ("#2a9d8f", "D", "PPI++ (model + verified sample)"),
    "naive": ("#c2452d", "s", "naive (predicted labels as truth)"),
    "sample-only": ("#7a7a7a", "^", "verified sample only"),
}


def coefficients_figure(table: pd.DataFrame, path: Path) -> None:
    """Write the coefficient plot of ``table`` (rows: term, method, estimate, low, high)."""
    from replicoder.estimate.regression import INTERCEPT

    terms = [t for t in dict.fromkeys(table["term"]) if t != INTERCEPT] or [INTERCEPT]
    methods = [m for m in STYLE if m in set(table["method"])]
    level = float(table["level"].iloc[0])
    cols = min(3, len(terms))
    rows = math.ceil(len(terms) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 0.45 * len(methods) * rows + 1.2),
                             squeeze=False)
    for i, term in enumerate(terms):
        ax = axes[i // cols][i % cols]
        part = table[table["term"] == term].set_index("method")
        for k, method in enumerate(methods):
            r = part.loc[method]
            colour, marker, _ = STYLE[method]
            ax.errorbar([r["estimate"]], [k], xerr=[[r["estimate"] - r["low"]],
                                                    [r["high"] - r["estimate"]]],
                        fmt=marker, color=colour, ms=4, capsize=2, lw=1)
        ax.axvline(0.0, color="black", lw=0.6, alpha=0.5)
        ax.set_yticks(range(len(methods)), methods, fontsize=7)
        ax.set_ylim(len(methods) - 0.5, -0.5)
        ax.set_title(term[:40], fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    for j in range(len(terms), rows * cols):
        axes[j // cols][j % cols].axis("off")
    outcome, model = table["outcome"].iloc[0], table["model"].iloc[0]
    fig.suptitle(f"{model} coefficients for label {outcome} ({level:.0%} intervals)",
                 fontsize=9)
    fig.tight_layout()
    _save(fig, path)
