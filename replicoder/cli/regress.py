"""Command: estimate regress (issue 27): regressions on predicted labels, corrected."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import StudyOption, console, err_console, study_at
from replicoder.errors import ReplicoderError


def _references(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        column, sep, level = item.partition("=")
        if not sep or not column or not level:
            raise ReplicoderError(f"--reference {item}: write COLUMN=LEVEL, e.g. chamber=HR")
        out[column] = level
    return out


def regress(
    predictions: Annotated[Path, typer.Option(
        help="Classified output of `replicoder classify` (.parquet, .csv, .jsonl, .dta).")],
    outcome: Annotated[str, typer.Option(
        help="The label (code or name) whose indicator is the outcome.")],
    covariates: Annotated[list[str], typer.Option(
        help="A covariate column (of the predictions file, else the documents' metadata). "
        "Numbers are used as numbers, text as categories (an indicator per level but the "
        "reference). Repeatable.")],
    outcome_from: Annotated[str, typer.Option(
        help="'labels': the outcome is 1 where the model's final answer has the label; "
        "'scores': the model's score_<code> probability.")] = "labels",
    model: Annotated[str, typer.Option(help="ols (linear probability) or logit.")] = "ols",
    cluster: Annotated[str | None, typer.Option(
        help="Column whose documents share errors (member, outlet): clustered standard "
        "errors.")] = None,
    method: Annotated[list[str] | None, typer.Option(
        help="dsl, ppi, naive or sample-only (repeatable; default all four).")] = None,
    sample: Annotated[str | None, typer.Option(
        help="Id of the validation sample (default: the latest `review sample`).")] = None,
    categorical: Annotated[list[str] | None, typer.Option(
        help="Treat this numeric covariate (e.g. year) as categories. Repeatable.")] = None,
    reference: Annotated[list[str] | None, typer.Option(
        help="COLUMN=LEVEL: the reference level of a categorical covariate (default: the "
        "first level in sorted order). Repeatable.")] = None,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
    power: Annotated[float | None, typer.Option(
        "--power", help="A target standard error: report how many verified documents (a "
        "simple random sample) each coefficient needs to reach it, using the current "
        "sample as the pilot.")] = None,
    id_column: Annotated[str, typer.Option("--id", help="Id column of the predictions.")
                         ] = "id",
    allow_incomplete: Annotated[bool, typer.Option(
        "--allow-incomplete", help="Use the verified part of a sample whose review is not "
        "finished (valid only if the rest is missing at random).")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Output folder (default: runs/<run id>/ of the study).")] = None,
    study: StudyOption = Path("."),
) -> None:
    """Regression on predicted labels with valid intervals, corrected by the verified sample.

    The outcome is a label's indicator for every classified document, the covariates are
    columns of the file or the documents' metadata. Four fits, side by side:

    - dsl: design-based supervised learning (Egami et al., NeurIPS 2023): the regression
    of the predicted outcome corrected, document by document of the random sample of
    `replicoder review sample`, by the verified one (weighted by 1/inclusion probability);
    the predicted outcome is first calibrated on the verified sample (cross-fitted).

    - ppi: PPI++ (Angelopoulos, Duchi, Zrnic 2024): the same on the raw predictions,
    weighted by the lambda in [0, 1] that makes the intervals narrowest.

    - naive: the regression of the predicted labels as if they were true (biased, too
    narrow).

    - sample-only: the verified sample alone (valid, wide).

    Refuses a model that was trained on documents of the sample; warns when a corrected
    interval is wider than sample-only's (the predictions add nothing there). Writes
    coefficients.csv, coefficients.parquet, coefficients.png (power.csv with --power) and
    manifest.json.

    Example: replicoder estimate regress --predictions coded.parquet --outcome 3
    --covariates chamber --covariates year --cluster sponsor --model logit
    """
    from replicoder.estimate.coefficients import regress as run
    from replicoder.estimate.regression import METHODS

    result = run(study_at(study), predictions, outcome=outcome, covariates=covariates,
                 outcome_from=outcome_from, model=model, cluster=cluster,
                 methods=method or list(METHODS), sample_id=sample, id_column=id_column,
                 level=level, categorical=categorical or [],
                 reference=_references(reference or []), allow_incomplete=allow_incomplete,
                 power_se=power, out_dir=out)
    for warning in result.warnings:
        err_console.print(f"[bold yellow]warning:[/] {warning}")
    frame = result.table
    methods = list(dict.fromkeys(frame["method"]))
    table = Table("term", *methods, title=f"{model} coefficients for {frame['outcome'].iloc[0]}"
                  f" with {level:.0%} intervals")
    for term, part in frame.groupby("term", sort=False):
        rows = part.set_index("method")
        table.add_row(str(term)[:32], *(f"{rows.loc[m, 'estimate']:.3f} "
                                        f"[{rows.loc[m, 'low']:.3f}, {rows.loc[m, 'high']:.3f}]"
                                        for m in methods))
    console.print(table)
    if result.power is not None:
        need = Table("term", "method", "SE now", "verified needed", "sample-only needs",
                     title=f"verified documents for a standard error of {power:g} "
                     f"(now {int(result.power['verified_now'].iloc[0])} verified)")
        for r in result.power.itertuples():
            need.add_row(str(r.term)[:32], str(r.method), f"{r.se_now:.4f}",
                         "unreachable" if math.isinf(float(r.needed)) else f"{r.needed:,.0f}",
                         "unreachable" if math.isinf(float(r.needed_sample_only))
                         else f"{r.needed_sample_only:,.0f}")
        console.print(need)
    console.print(f"Wrote {len(frame):,} rows to {result.out_dir} (coefficients.csv, "
                  f"coefficients.parquet, coefficients.png, manifest.json); run "
                  f"{result.run_id}.")
