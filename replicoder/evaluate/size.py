"""The seed paper's size figures: metrics against the number of model parameters.

Carammia, Iacus and Porro (2024), Figures 2-4, plot accuracy, Hamming loss and Jaccard
against model size on a log scale, train and test side by side, one point per model. The
evaluate report draws the same figure whenever the models it compares have two sizes or more
(a trained model knows its size; a predictions file is given one with ``--params``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from replicoder import atomic  # noqa: E402

__all__ = ["human", "size_figure", "size_keys", "sized_models"]

COLOURS = {"train": "#9ecae1", "validation": "#fdae6b", "test": "#08519c"}  # as report.py
TITLES = {"subset_accuracy": "Accuracy (exact match)", "label_accuracy": "Label accuracy",
          "hamming_loss": "Hamming loss", "jaccard": "Jaccard index"}


def human(n: float) -> str:
    """7e9 -> '7B', 1.35e8 -> '135M'."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def size_keys(result: dict[str, Any]) -> list[str]:
    """Accuracy, Hamming loss and Jaccard; label accuracy (accD) is a graded study's accuracy."""
    accuracy = "label_accuracy" if result.get("intensities") else "subset_accuracy"
    return [accuracy, "hamming_loss", "jaccard"]


def sized_models(result: dict[str, Any]) -> dict[str, float]:
    """Model name -> number of parameters, for the models that know it."""
    return {name: float(entry["parameters"]) for name, entry in result["models"].items()
            if entry.get("parameters")}


SPREAD = 1.5  # sizes closer than this (the same base with another head) are one size


def size_figure(result: dict[str, Any], path: Path) -> bool:
    """Draw the figure into ``path`` if models of different sizes are compared (the largest
    at least 1.5 times the smallest); say whether it was drawn."""
    sizes = sized_models(result)
    if len(sizes) < 2 or max(sizes.values()) < SPREAD * min(sizes.values()):
        return False
    keys, parts = size_keys(result), list(result["parts"])
    fig, axes = plt.subplots(len(keys), len(parts), squeeze=False, sharex=True,
                             figsize=(4.2 * len(parts), 2.9 * len(keys)), layout="constrained")
    for row, key in enumerate(keys):
        for col, part in enumerate(parts):
            ax = axes[row][col]
            for name, n in sorted(sizes.items(), key=lambda item: item[1]):
                m = result["models"][name]["parts"].get(part)
                if m is None or m.get(key) is None:
                    continue
                v, (lo, hi) = m[key], m["ci"][key]
                err = [[max(0.0, v - lo) if lo is not None else 0.0],
                       [max(0.0, hi - v) if hi is not None else 0.0]]
                ax.errorbar([n], [v], yerr=err, fmt="o", capsize=3,
                            color=COLOURS.get(part, "grey"), mec="black", mew=0.5)
                ax.annotate(name, (n, v), textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
            ax.set_xscale("log")
            ax.set_xlim(min(sizes.values()) / 2, max(sizes.values()) * 2.5)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: human(x)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(alpha=0.3, which="both")
            if row == 0:
                ax.set_title(f"{part} documents", fontsize=10)
            if col == 0:
                ax.set_ylabel(TITLES[key], fontsize=9)
            if row == len(keys) - 1:
                ax.set_xlabel("parameters (log scale)", fontsize=9)
    fig.suptitle("Metrics against model size (bars: 95% bootstrap intervals)", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())
    return True
