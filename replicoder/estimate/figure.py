"""The figure of `replicoder estimate`: label shares with their intervals, per method.

Without groups: one row per label, a dot and whisker per method. With ``--by``: one panel
per label, shares across the groups (the first ``--by`` column on the x axis).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from replicoder import atomic  # noqa: E402

__all__ = ["STYLE", "shares_figure"]

STYLE = {  # method -> colour, marker, label
    "ppi": ("#1f5fa8", "o", "PPI (model + verified sample)"),
    "classify-and-count": ("#c2452d", "s", "classify-and-count"),
    "sample-only": ("#7a7a7a", "^", "verified sample only"),
}


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())


def _errors(part: pd.DataFrame) -> list[list[float]]:
    return [(part["estimate"] - part["low"]).clip(lower=0).tolist(),
            (part["high"] - part["estimate"]).clip(lower=0).tolist()]


def shares_figure(table: pd.DataFrame, by: list[str], path: Path) -> None:
    methods = [m for m in STYLE if m in set(table["method"])]
    level = float(table["level"].iloc[0])
    labels = list(dict.fromkeys(table["label"]))
    names = dict(zip(table["label"], table["label_name"], strict=False))
    if not by:
        fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(labels) + 1.4))
        for k, method in enumerate(methods):
            part = table[table["method"] == method].set_index("label").loc[labels].reset_index()
            offset = (k - (len(methods) - 1) / 2) * 0.22
            colour, marker, text = STYLE[method]
            ax.errorbar(part["estimate"], [i + offset for i in range(len(labels))],
                        xerr=_errors(part), fmt=marker, color=colour, ms=4, capsize=2,
                        lw=1, label=text)
        ax.set_yticks(range(len(labels)), [f"{c} {names[c]}"[:38] for c in labels], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"share of documents ({level:.0%} intervals)")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        _save(fig, path)
        return
    x_col = by[0]
    table = table.assign(_x=table[by].astype(str).agg(" | ".join, axis=1))
    xs = sorted(set(table["_x"]), key=_natural)
    cols = min(4, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False,
                             sharex=True)
    pos = {x: i for i, x in enumerate(xs)}
    for i, code in enumerate(labels):
        ax = axes[i // cols][i % cols]
        for k, method in enumerate(methods):
            part = table[(table["label"] == code) & (table["method"] == method)]
            part = part.assign(_p=part["_x"].map(pos)).sort_values("_p")
            offset = (k - (len(methods) - 1) / 2) * 0.15
            colour, marker, text = STYLE[method]
            ax.errorbar(part["_p"] + offset, part["estimate"], yerr=_errors(part), fmt=marker,
                        color=colour, ms=3, capsize=1.5, lw=0.9, label=text,
                        linestyle="-" if method == "ppi" else "none")
        ax.set_title(f"{code} {names[code]}"[:34], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for j in range(len(labels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    for ax in axes[-1]:
        ax.set_xticks(range(len(xs)), xs, rotation=45 if len(xs) > 6 else 0, fontsize=7)
    fig.supxlabel(" | ".join(by) if len(by) > 1 else x_col, fontsize=9)
    fig.supylabel(f"share ({level:.0%} intervals)", fontsize=9)
    handles, texts = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="upper center", ncol=len(methods), fontsize=8,
               bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    _save(fig, path)


def _natural(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
