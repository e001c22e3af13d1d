"""Command: agreement (between LLM annotators)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from replicoder import atomic
from replicoder.cli.common import StudyOption, console, study_at


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("agreement")(agreement)


def agreement(
    annotator: Annotated[list[str] | None, typer.Option(
        "--annotator", "-a", help="Annotator to include (repeatable; default: all that have "
        "proposals).", show_default=False)] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the 95% intervals.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the table as JSON to this file.", show_default=False)] = None,
    study: StudyOption = Path("."),
) -> None:
    """Agreement between annotators: Cohen's kappa per pair, Krippendorff's alpha, % all agree.

    Alpha is nominal for single-label codebooks; for multi-label ones it uses the MASI set
    distance, and each label is also scored as a binary item. Intervals: 95% bootstrap over
    documents. Unreadable answers count as missing.

    Example: replicoder agreement --annotator smol --annotator gpt --study my-study
    """
    from replicoder.annotate.agreement import agreement_table

    table = agreement_table(study_at(study), annotator, n_boot=n_boot, seed=seed)
    print_agreement(table, console)
    if json_out is not None:
        atomic.write_text(json_out, json.dumps(_json_ready(table), indent=2) + "\n")
        console.print(f"wrote {json_out}")


def _json_ready(obj: Any) -> Any:
    """NaN becomes null: strict JSON has no NaN."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_ready(v) for v in obj]
    return obj


def _fmt(stat: dict[str, Any]) -> tuple[str, str, str]:
    """(n, value, interval) as text; "n/a" where undefined."""
    def num(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{x:.3f}"

    lo, hi = stat["ci"]
    ci = "n/a" if math.isnan(lo) else f"[{lo:.3f}, {hi:.3f}]"
    return str(stat["n"]), num(stat["value"]), ci


def print_agreement(table: dict[str, Any], out: Console) -> None:
    """Print an :func:`replicoder.annotate.agreement.agreement_table` result as rich tables."""
    missing = ", ".join(f"{a} {k}" for a, k in table["missing"].items())
    out.print(f"{table['n_documents']} documents, {len(table['annotators'])} annotators "
              f"(documents without a usable answer: {missing})")
    pairs = Table(title="Cohen's kappa" + (" (on label sets)" if table["multi_label"] else ""))
    for col in ("annotator A", "annotator B", "documents", "kappa", "95% CI"):
        pairs.add_column(col, justify="left" if col.startswith("annotator") else "right")
    for row in table["kappa"]:
        pairs.add_row(row["a"], row["b"], *_fmt(row))
    out.print(pairs)
    overall = Table(title="All annotators")
    for col in ("statistic", "documents", "value", "95% CI"):
        overall.add_column(col, justify="left" if col == "statistic" else "right")
    alpha = table["alpha"]
    overall.add_row(f"Krippendorff's alpha ({alpha['distance']})", *_fmt(alpha))
    overall.add_row("share where all agree", *_fmt(table["all_agree"]))
    out.print(overall)
    stab = table.get("stability") or {}
    if stab.get("within") or stab.get("between"):
        st = Table(title=f"Stability: Krippendorff's alpha ({stab['distance']}) across repeats "
                   "(within) and across prompts of one model (between)")
        for col in ("kind", "annotators", "documents", "alpha", "95% CI"):
            st.add_column(col, justify="left" if col in ("kind", "annotators") else "right")
        for row in stab["within"]:
            st.add_row("within", f"{row['annotator']} ×{row['repeats']}", *_fmt(row))
        for row in stab["between"]:
            st.add_row("between", ", ".join(row["annotators"]), *_fmt(row))
        out.print(st)
    if table["alpha_per_label"]:
        per = Table(title="Krippendorff's alpha per label (binary)")
        for col in ("code", "label", "proposed", "documents", "alpha", "95% CI"):
            per.add_column(col, justify="left" if col in ("code", "label") else "right")
        for row in table["alpha_per_label"]:
            per.add_row(row["code"], row["name"], str(row["proposed"]), *_fmt(row))
        out.print(per)
