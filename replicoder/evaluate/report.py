"""report.html and PNG figures (matplotlib, Agg backend) for evaluate and learning-curve runs.

Figures in the paper's style: headline metrics per model on train and test with 95%
bootstrap intervals; per-label balanced accuracy, F1, sensitivity and specificity;
metrics against training-set size for learning curves.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from replicoder import atomic  # noqa: E402
from replicoder.evaluate.size import size_figure  # noqa: E402
from replicoder.labels.codebook import Codebook  # noqa: E402

__all__ = ["PART_COLOURS", "PER_LABEL", "TEMPLATE", "TITLES", "headline_figure", "headline_keys",
           "learning_curve_figure", "per_label_figure", "scored_note", "short", "write_report"]

PART_COLOURS = {"train": "#9ecae1", "validation": "#fdae6b", "test": "#08519c"}
PER_LABEL = ("balanced_accuracy", "f1", "sensitivity", "specificity")
TITLES = {"subset_accuracy": "Accuracy (exact match)", "label_accuracy": "Label accuracy",
          "hamming_loss": "Hamming loss", "jaccard": "Jaccard index", "f1_micro": "Micro F1",
          "f1_macro": "Macro F1", "balanced_accuracy": "Balanced accuracy", "f1": "F1",
          "sensitivity": "Sensitivity (recall)", "specificity": "Specificity",
          "intensity_accuracy": "Intensity accuracy (accI)",
          "fn_rate": "False-negative cells (FN)", "fp_rate": "False-positive cells (FP)",
          "jaccard_graded": "Jaccard with intensity",
          "exact_match_graded": "Exact match with intensity"}
GRADED_KEYS = ["jaccard", "intensity_accuracy", "label_accuracy", "fn_rate", "fp_rate",
               "jaccard_graded", "subset_accuracy", "f1_macro"]


def headline_keys(multi_label: bool, graded: bool = False) -> list[str]:
    """The metrics tables lead with, in order: exact-match accuracy and Jaccard, as the paper.

    Label accuracy (1 - Hamming loss) rewards predicting nothing when labels are rare, so
    it comes last and only for multi-label codebooks. A graded study leads with Jaccard,
    intensity accuracy and label presence accuracy (the paper's jac, accI, accD), then FN
    and FP.
    """
    if graded:
        return list(GRADED_KEYS)
    return ["subset_accuracy", "jaccard", "hamming_loss", "f1_macro",
            *(["label_accuracy"] if multi_label else [])]


def scored_note(result: dict[str, Any]) -> str:
    """One sentence on which documents each row is scored on."""
    if result.get("common_subset"):
        names = ", ".join(result["common_subset"]["annotators"])
        return (f"Every model is scored on the same documents: those every annotator "
                f"({names}) answered.")
    return ("n: documents scored. Annotators are scored on the documents they answered "
            "(an unparsed answer counts as no label); the crowd on those any annotator "
            "answered; other models on every document.")


def short(name: str, width: int = 24) -> str:
    """A long model name ("zero-shot:/a/long/path") cut in the middle for axis labels."""
    if len(name) <= width:
        return name
    keep = (width - 1) // 2
    return f"{name[:keep]}…{name[-keep:]}"


def _save(fig: Any, path: Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())


def headline_figure(result: dict[str, Any], path: Path) -> None:
    """Accuracy, Jaccard and Hamming loss: one bar per model and part, CI as error bars."""
    keys = headline_keys(result["multi_label"], bool(result.get("intensities")))[:3]
    names = list(result["models"])
    parts = result["parts"]
    width = 0.8 / len(parts)
    fig, axes = plt.subplots(1, 3, figsize=(max(9.0, 1.1 * len(names) * 3), 4.2),
                             layout="constrained")
    x = np.arange(len(names))
    for ax, key in zip(axes, keys, strict=True):
        for k, part in enumerate(parts):
            vals, lows, highs = [], [], []
            for name in names:
                m = result["models"][name]["parts"].get(part)  # None: nothing answered
                if m is None:
                    vals.append(np.nan)
                    lows.append(0.0)
                    highs.append(0.0)
                    continue
                v, (lo, hi) = m[key], m["ci"][key]
                vals.append(v)
                lows.append(max(0.0, v - lo) if lo is not None else 0.0)  # rounding
                highs.append(max(0.0, hi - v) if hi is not None else 0.0)
            pos = x - 0.4 + width * (k + 0.5)
            bars = ax.bar(pos, vals, width, yerr=[lows, highs], capsize=3, label=part,
                          color=PART_COLOURS.get(part, "grey"), edgecolor="black", lw=0.5)
            digits = 3 if key == "hamming_loss" else 2
            ax.bar_label(bars, labels=[f"{v:.{digits}f}" for v in vals], fontsize=7,
                         padding=2)
        ax.set_title(TITLES[key])
        ax.set_xticks(x, [short(n) for n in names], rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.08 if key != "hamming_loss" else None)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(title="documents", fontsize=8)
    fig.suptitle("Models on the same documents (bars: 95% bootstrap intervals)", fontsize=10)
    _save(fig, path)


def per_label_figure(result: dict[str, Any], part: str, book: Codebook, path: Path) -> None:
    """Per label (rows) balanced accuracy, F1, sensitivity, specificity; one marker per model."""
    codes = result["codes"]
    names = list(result["models"])
    ylabels = [f"{c} {book.label(c).name[:26]}" if c in book else c for c in codes]
    fig, axes = plt.subplots(1, 4, sharey=True, layout="constrained",
                             figsize=(13, max(3.5, 0.32 * len(codes) + 1.5)))
    markers = "oDs^v<>pP*X"
    y = np.arange(len(codes))
    for ax, key in zip(axes, PER_LABEL, strict=True):
        low = 1.0
        for k, name in enumerate(names):
            if part not in result["models"][name]["parts"]:
                continue  # an annotator that answered none of this part
            rows = result["models"][name]["parts"][part]["per_label"]
            vals = np.array([np.nan if rows[c][key] is None else rows[c][key] for c in codes])
            off = (k - (len(names) - 1) / 2) * 0.12
            ax.plot(vals, y + off, markers[k % len(markers)], ms=5, label=short(name),
                    alpha=0.85)
            low = min(low, float(np.nanmin(vals, initial=1.0)))
        ax.set_title(TITLES[key], fontsize=10)
        # specificity is near 1 with many labels: zoom in so differences show
        ax.set_xlim(max(0.0, low - 0.05) - 0.02 if key == "specificity" else -0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_yticks(y, ylabels, fontsize=8)
    axes[0].invert_yaxis()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
               ncols=min(len(names), 6), fontsize=8)
    fig.suptitle(f"Per label, {part} documents (missing marker: undefined, label absent)",
                 fontsize=10)
    _save(fig, path)


def learning_curve_figure(result: dict[str, Any], path: Path) -> None:
    """Metrics against training-set size: mean over repeats, 95% bootstrap band, each repeat."""
    keys = ["subset_accuracy", "jaccard", "f1_macro", "hamming_loss"]
    points = result["curve"]
    sizes = sorted({p["size"] for p in points})
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.8),
                             layout="constrained")
    for ax, key in zip(axes, keys, strict=True):
        mean, low, high = [], [], []
        for s in sizes:
            at = [p for p in points if p["size"] == s]
            vals = [p["metrics"][key] for p in at if p["metrics"][key] is not None]
            mean.append(np.mean(vals) if vals else np.nan)
            low.append(np.mean([p["metrics"]["ci"][key][0] or np.nan for p in at]))
            high.append(np.mean([p["metrics"]["ci"][key][1] or np.nan for p in at]))
            ax.plot([s] * len(vals), vals, ".", color="grey", ms=4)
        ax.fill_between(sizes, low, high, alpha=0.25, color="#08519c", lw=0)
        ax.plot(sizes, mean, "o-", color="#08519c")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes], fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel("training documents")
        ax.set_title(TITLES[key], fontsize=10)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Learning curve: {result['trainer']} on {result['documents']['test']['n']} "
                 "test documents (band: 95% bootstrap interval)", fontsize=10)
    _save(fig, path)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>replicoder {{ kind }} {{ r.run_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2} td.l,th.l{text-align:left} .ci{color:#777;font-size:12px}
img{max-width:100%;border:1px solid #eee;margin:1em 0}
</style></head><body>
<h1>replicoder {{ kind }}</h1>
<p>Run <code>{{ r.run_id }}</code>, made {{ created }}. Codebook: {{ book.name }}
({{ r.codes|length }} labels, {{ "multi-label" if r.multi_label else "single-label" }}).
Documents: {% for p, d in r.documents.items() %}{{ p }} {{ d.n }}{% if not loop.last %},
{% endif %}{% endfor %}. Intervals: 95% percentile bootstrap, {{ r.n_boot }} resamples,
seed {{ r.seed }}.</p>
{% if r.trainer is defined %}<p>Trainer: {{ r.trainer }}; sizes {{ r.sizes|join(", ") }};
repeats {{ r.repeats }}.</p>{% endif %}
<h2>Headline metrics</h2>
<p>{{ note }}</p>
<table><tr><th class="l">model</th><th class="l">kind</th><th class="l">documents</th>
<th>n</th><th>unparsed</th>
{% for k in headline %}<th>{{ titles[k] }}</th>{% endfor %}</tr>
{% for name, m in r.models.items() %}{% for part, v in m.parts.items() %}
<tr><td class="l">{{ name }}</td><td class="l">{{ m.kind }}</td><td class="l">{{ part }}</td>
<td>{{ v.n_documents }}</td><td>{{ m.answers[part].unparsed if m.answers is defined
and part in m.answers else "–" }}{% if m.missing is defined and part in m.missing %}
({{ m.missing[part] }} not in file){% endif %}</td>{% for k in headline %}<td>{{ fmt(v[k]) }}
<span class="ci">[{{ fmt(v.ci[k][0]) }}, {{ fmt(v.ci[k][1]) }}]</span></td>{% endfor %}</tr>
{% endfor %}{% endfor %}</table>
{% set pairs = [] %}{% for name, m in r.models.items() %}{% for part, v in m.parts.items()
if v.vs_baseline is defined %}{% set _ = pairs.append((name, part, v.vs_baseline)) %}{% endfor
%}{% endfor %}{% if pairs %}<h2>Paired with the baseline ({{ pairs[0][2].baseline }})</h2>
<p>Difference in {{ titles[pairs[0][2].metric] }} on the same documents, with a 95% paired
bootstrap interval (both scored on each resample): it can exclude 0 while the intervals
above overlap.</p>
<table><tr><th class="l">model</th><th class="l">documents</th><th>n</th><th>difference</th>
<th>95% interval</th><th>resamples ≤ 0</th></tr>
{% for name, part, d in pairs %}<tr><td class="l">{{ name }}</td><td class="l">{{ part }}</td>
<td>{{ d.n_documents }}</td><td>{{ "%+.3f"|format(d.difference) }}</td>
<td>[{{ "%+.3f"|format(d.ci[0]) }}, {{ "%+.3f"|format(d.ci[1]) }}]</td>
<td>{{ "%.1f%%"|format(100 * d.p_below_0) }}</td></tr>{% endfor %}</table>{% endif %}
{% for f in figures %}<img src="{{ f.name }}" alt="{{ f.alt }}">
{% endfor %}
<h2>Per label ({{ r.split }} documents)</h2>
{% for name, m in r.models.items() if r.split in m.parts %}<details><summary>{{ name }}</summary>
<table><tr><th class="l">label</th><th>support</th><th>predicted</th>
{% for k in per_label %}<th>{{ titles[k] }}</th>{% endfor %}<th>precision</th>
{% if r.get("intensities") %}<th>same intensity</th>{% endif %}</tr>
{% for code, v in m.parts[r.split].per_label.items() %}<tr><td class="l">{{ code }}
{{ names.get(code, "") }}</td><td>{{ v.support }}</td><td>{{ v.predicted }}</td>
{% for k in per_label %}<td>{{ fmt(v[k]) }}</td>{% endfor %}<td>{{ fmt(v.precision) }}</td>
{% if r.get("intensities") %}<td>{{ fmt(v.intensity_agreement) }}</td>{% endif %}</tr>
{% endfor %}</table></details>
{% endfor %}
{% if r.get("intensities") %}<p>Graded codebook ({{ r.intensities|join(" < ") }}): label accuracy
(accD) = 1 − Hamming loss over presence; intensity accuracy (accI) = share of document ×
label cells where both are absent or both present at the same intensity; FN / FP = share of
all cells that are false negatives / false positives (accD + FN + FP = 1); Jaccard over
presence, a document with no true and no predicted label counting 1; "same intensity": among
documents where truth and prediction both carry the label, the share at the same
intensity.{% for name, m in r.models.items() if m.kind == "external" %} {{ name }}: {{ m.file }}
({{ m.documents }} documents{% if m.dropped %}, dropped {{ m.dropped }}{% endif %}).{% endfor %}
</p>{% endif %}
{% if r.review is defined %}<h2>Review: how often coders accepted each annotator's proposals</h2>
<table><tr><th>annotator</th><th>accepted</th><th>of proposals</th><th>rate (95% Wilson)</th></tr>
{% for a in r.review.acceptance %}<tr><td>{{ a.annotator }}</td><td>{{ a.accepted }}</td>
<td>{{ a.n }}</td><td>{{ "%.1f%%"|format(100 * a.rate) }} ({{ "%.1f"|format(100 * a.ci95[0]) }}–{{
"%.1f"|format(100 * a.ci95[1]) }})</td></tr>{% endfor %}</table>
{% set g = r.review.accept_agreement %}<p>Coder agreement on accept/reject: {{ g.documents }}
documents decided by two or more coders, {{ g.units }} (document, label)
pairs{% if g.alpha is not none %}; Krippendorff's alpha {{ fmt(g.alpha) }}, all coders
agree on {{ "%.1f%%"|format(100 * g.all_agree) }}{% endif %}.</p>
{% endif %}
<p>Undefined ratios (a label no document carries, or never predicted) show as "–".
Files: metrics.json, predictions.parquet, manifest.json.</p>
</body></html>
"""


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def write_report(run_dir: Path, result: dict[str, Any], book: Codebook, kind: str) -> list[str]:
    """Draw the figures and write report.html into ``run_dir``; returns the figure names."""
    figures: list[dict[str, str]] = []
    if kind == "learning-curve":
        learning_curve_figure(result, run_dir / "learning_curve.png")
        figures.append({"name": "learning_curve.png", "alt": "metrics vs training size"})
    else:
        headline_figure(result, run_dir / "headline.png")
        figures.append({"name": "headline.png", "alt": "accuracy, Hamming loss, Jaccard"})
        if size_figure(result, run_dir / "size.png"):
            figures.append({"name": "size.png", "alt": "metrics against model size"})
        for part in result["parts"]:
            name = f"per_label_{part}.png"
            per_label_figure(result, part, book, run_dir / name)
            figures.append({"name": name, "alt": f"per-label metrics, {part}"})
    keys = headline_keys(result["multi_label"], bool(result.get("intensities")))
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(TEMPLATE).render(
        r=result, kind=kind, book=book, figures=figures, fmt=_fmt, titles=TITLES,
        headline=keys if result.get("intensities") else [*keys[:3], "f1_micro", *keys[3:]],
        note=scored_note(result),
        per_label=PER_LABEL, names={lab.code: lab.name for lab in book.labels},
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    atomic.write_text(run_dir / "report.html", html)
    result["figures"] = [f["name"] for f in figures]
    return result["figures"]

