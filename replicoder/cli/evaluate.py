"""Commands: evaluate, learning-curve (issue 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from replicoder.cli.common import StudyOption, console, study_at
from replicoder.cli.progress import Bars
from replicoder.evaluate.report import scored_note

HEADERS = {"subset_accuracy": "accuracy (exact)", "label_accuracy": "label acc.",
           "hamming_loss": "Hamming", "jaccard": "Jaccard", "f1_macro": "macro F1",
           "intensity_accuracy": "intensity acc.", "fn_rate": "FN", "fp_rate": "FP",
           "jaccard_graded": "Jaccard (graded)"}




def _named_files(items: list[str]) -> dict[str, Path]:
    from replicoder.errors import ReplicoderError

    out: dict[str, Path] = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise ReplicoderError(f"--predictions {item!r}: give NAME=FILE, e.g. "
                                  "gpt4=classified-chatgpt4.csv.gz")
        if name.strip() in out:
            raise ReplicoderError(f"--predictions: the name {name.strip()!r} is given twice")
        out[name.strip()] = Path(file.strip())
    return out


def _sizes(items: list[str]) -> dict[str, float]:
    """--params NAME=N items as name -> number (7e9, 7000000000, 7B and 135M all read)."""
    from replicoder.errors import ReplicoderError

    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
    out: dict[str, float] = {}
    for item in items:
        name, _, number = (part.strip() for part in item.partition("="))
        text = number.upper()
        factor = scale.get(text[-1:], 1.0)
        try:
            value = float(text[:-1] if text[-1:] in scale else text) * factor
        except ValueError:
            value = 0.0
        if not name or not value > 0:
            raise ReplicoderError(f"--params {item!r}: give NAME=N with N a positive number of "
                                  "parameters, e.g. L2-7B=7e9 or L2-7B=7B")
        out[name] = value
    return out


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("evaluate")(evaluate)
    app.command("learning-curve")(learning_curve)


def _fmt(v: float | None, ci: tuple[float | None, float | None] | list[Any], d: int = 2
         ) -> str:
    """The value, and its interval on a line of its own (so that tables stay narrow)."""
    if v is None:
        return "–"
    lo, hi = ci
    return f"{v:.3f}\n[dim]{lo:.{d}f}-{hi:.{d}f}[/]" if lo is not None and hi is not None \
        else f"{v:.3f}"


SHORT = {"subset_accuracy": "accuracy", "intensity_accuracy": "accI", "label_accuracy": "accD"}


def terminal_keys(multi_label: bool, graded: bool = False) -> list[str]:
    """The metrics the terminal table shows (it fits 80 columns); report.html has them all."""
    if graded:
        return ["jaccard", "intensity_accuracy", "label_accuracy"]
    return ["subset_accuracy", *(["jaccard"] if multi_label else []), "f1_macro"]


def results_table(result: dict[str, Any]) -> Table:
    """Exact-match accuracy (or Jaccard) first, as the paper; n: documents scored.

    Three metrics at most and each interval under its value, so the table fits an
    80-column terminal; every metric, with its interval, is in the run's report.html.
    """
    keys = terminal_keys(result["multi_label"], bool(result.get("intensities")))
    versus = next((m["vs_baseline"] for e in result["models"].values()
                   for m in e["parts"].values() if "vs_baseline" in m), None)
    caption = scored_note(result) + "".join(
        f" {name}: {entry['missing'][part]} of the {part} documents not in its file (scored "
        "as no label)." for name, entry in result["models"].items()
        for part in entry.get("missing", {}) if entry["missing"][part]) + "".join(
        f" {name}: {entry['cut'][part]} of the {part} documents were longer than its "
        f"{entry['max_length']} tokens and were cut." for name, entry in result["models"].items()
        for part in entry.get("cut", {}) if entry["cut"][part]) + \
        (f" vs {versus['baseline']}: the difference in {HEADERS[versus['metric']]} from "
         f"{versus['baseline']} on the same documents, with its paired interval."
         if versus else "") + " All metrics: report.html."
    table = Table(title="95% bootstrap intervals under each value", caption=caption,
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True, caption_justify="left")
    crowd = any("answers" in entry for entry in result["models"].values())
    widest = max((len(name) for name in result["models"]), default=5)
    for col in ("model", "part", "n", *(["unparsed"] if crowd else []),
                *(SHORT.get(k, HEADERS[k]) for k in keys),
                *([f"vs {versus['baseline']}"] if versus else [])):
        table.add_column(col, justify="left" if col in ("model", "part") else "right",
                         overflow="fold", min_width=min(widest, 14) if col == "model" else None)
    for name, entry in result["models"].items():
        for part, m in entry["parts"].items():
            unparsed = entry.get("answers", {}).get(part, {}).get("unparsed")
            diff = m.get("vs_baseline")
            table.add_row(name, part, str(m["n_documents"]),
                          *([] if not crowd else ["–" if unparsed is None else str(unparsed)]),
                          *[_fmt(m[k], m["ci"][k]) for k in keys],
                          *([] if not versus else [
                              "" if diff is None else f"{diff['difference']:+.3f}\n[dim]"
                              f"{diff['ci'][0]:+.2f}, {diff['ci'][1]:+.2f}[/]"]))
    return table


def evaluate(
    names: Annotated[list[str] | None, typer.Argument(
        help="Fine-tuned models (models/NAME) to evaluate; 'zero-shot' or 'zero-shot:BASE' "
             "for a base model prompted with the codebook.", show_default=False)] = None,
    annotators: Annotated[bool, typer.Option(
        "--annotators", help="Also evaluate every LLM annotator's proposals, and the crowd's "
                             "majority and union.")] = False,
    annotator: Annotated[list[str] | None, typer.Option(
        help="Evaluate this annotator's proposals (repeatable).", show_default=False)] = None,
    baseline: Annotated[str, typer.Option(
        help="Built-in baseline trained on the train part: 'tfidf' (TF-IDF + linear SVM) or "
             "'none'.")] = "tfidf",
    split: Annotated[str, typer.Option(
        help="Part of the study's split to evaluate on: test, validation or train.")] = "test",
    train_rows: Annotated[bool, typer.Option(
        "--train-rows/--no-train-rows", help="Also report each model on the train documents, "
                                             "as the paper does.")] = True,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    common_subset: Annotated[bool, typer.Option(
        "--common-subset", help="Score every model only on the documents every evaluated "
                                "annotator answered, so that all rows are comparable.")
    ] = False,
    predictions: Annotated[list[str] | None, typer.Option(
        "--predictions", help="Also score another system's predictions, NAME=FILE (CSV, TSV, "
                              "JSONL or Parquet; repeatable). Rows: document id, label "
                              "(several joined by ';', or a list), optional intensity.",
        show_default=False)] = None,
    pred_id_column: Annotated[str, typer.Option(
        help="Document id column of the --predictions files.")] = "id",
    pred_label_column: Annotated[str, typer.Option(
        help="Label column of the --predictions files: codes or names (any case).")
    ] = "labels",
    pred_intensity_column: Annotated[str | None, typer.Option(
        help="Intensity column of the --predictions files (graded codebooks; else write "
             "labels as label:intensity).", show_default=False)] = None,
    drop_unknown: Annotated[bool, typer.Option(
        "--drop-unknown", help="Drop labels or intensities of --predictions files that the "
                               "codebook lacks (counted in the report) instead of stopping.")
    ] = False,
    params: Annotated[list[str] | None, typer.Option(
        "--params", help="A model's number of parameters, NAME=N (e.g. L2-7B=7e9; "
                         "repeatable), for --predictions files; trained models know theirs. "
                         "With two sizes or more, report.html plots accuracy, Hamming loss "
                         "and Jaccard against size (size.png).", show_default=False)] = None,
    study: StudyOption = Path("."),
) -> None:
    """Compare models on the same documents with the paper's metrics.

    Every model (fine-tuned, zero-shot, baseline, annotators) is scored on
    the same documents of the study's split, with 95% bootstrap intervals:
    accuracy, Hamming loss, Jaccard, micro/macro F1, and per label balanced
    accuracy, F1, sensitivity, specificity. Writes runs/<id>/ with
    metrics.json, predictions.parquet, report.html, PNG figures and
    manifest.json. The table leads with exact-match accuracy and Jaccard.

    An annotator is scored on the documents it answered (n in the table; an
    unparsed answer counts as no label), not on documents it never saw; with
    --common-subset every model is scored on the documents all annotators answered.

    Graded codebooks (with intensities) add the paper's intensity accuracy
    (accI), false-negative and false-positive cell rates (FN, FP) and graded
    Jaccard; label accuracy (accD) and the rest are over label presence.

    --predictions scores any other system on the same documents: a document
    its file lacks counts as predicting no label (counted in the table).
    When models of two sizes or more are compared (--params for files), the
    report adds the paper's figure of the metrics against model size.

    Example: replicoder evaluate my-model zero-shot --annotators --baseline tfidf

    Example: replicoder evaluate --predictions gpt4=gpt4.csv --pred-label-column
    dimension --pred-intensity-column value --drop-unknown

    Example: replicoder evaluate bills --predictions L2-7B=l27b.csv --params L2-7B=7e9
    """
    from replicoder.evaluate.compare import ExternalSpec, evaluate_models

    chosen: bool | list[str] = True if annotators else list(annotator or [])
    result = evaluate_models(
        study_at(study), list(names or []), annotators=chosen,
        baseline=None if baseline == "none" else baseline, split=split, n_boot=n_boot,
        train_rows=train_rows, common_subset=common_subset,
        external=_named_files(list(predictions or [])),
        external_spec=ExternalSpec(pred_id_column, pred_label_column, pred_intensity_column,
                                   drop_unknown),
        parameters=_sizes(list(params or [])),
    )
    console.print(results_table(result))
    console.print(f"Report: [bold]{Path(result['run_dir']) / 'report.html'}[/]", soft_wrap=True)


def learning_curve(
    sizes: Annotated[str, typer.Option(
        help="Training-set sizes, comma separated; 'all' is the whole train part.")
    ] = "100,250,500,1000,2000,all",
    repeats: Annotated[int, typer.Option(
        help="Subsets drawn per size (seeds seed, seed+1, ...).")] = 1,
    trainer: Annotated[str, typer.Option(
        help="'finetune' (LoRA on --base, as `replicoder train`) or 'tfidf' (the baseline, "
             "seconds).")] = "finetune",
    base: Annotated[str, typer.Option(help="Base model: 'embedded', a hub id, a folder or a "
                                           ".gguf file.")] = "embedded",
    mode: Annotated[str, typer.Option(help="classifier or generative.")] = "classifier",
    epochs: Annotated[int | None, typer.Option(help="Training epochs (default: train's).",
                                               show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the subsets and of training.")] = 0,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
    study: StudyOption = Path("."),
) -> None:
    """Train on growing seeded subsets of the train part; test on the same set.

    Plots accuracy, macro F1, Jaccard and Hamming loss against training-set
    size with 95% bootstrap bands. Fine-tuned models stay in models/lc-*;
    running the same command again reuses them. Writes runs/<id>/ with
    learning_curve.png, metrics.json, predictions.parquet and report.html.

    Example: replicoder learning-curve --sizes 100,250,500,all --repeats 2
    """
    from replicoder.errors import ReplicoderError
    from replicoder.evaluate.curve import learning_curve as run
    from replicoder.evaluate.curve import parse_sizes

    if trainer not in ("finetune", "tfidf"):
        raise ReplicoderError(f"--trainer {trainer!r}: use finetune or tfidf")
    kwargs: dict[str, Any] = {} if epochs is None else {"epochs": epochs}
    with Bars("steps") as progress:
        result = run(study_at(study), parse_sizes(sizes), repeats, base=base, mode=mode,
                     seed=seed, trainer=None if trainer == "finetune" else "tfidf",
                     n_boot=n_boot, progress=progress, **kwargs)
    keys = ("subset_accuracy", "jaccard", "f1_macro")
    table = Table(title=f"Learning curve, {result['trainer']} (test documents)")
    for col in ("size", "repeat", *(HEADERS[k] for k in keys)):
        table.add_column(col, justify="right")
    for p in result["curve"]:
        m = p["metrics"]
        table.add_row(str(p["size"]), str(p["repeat"]),
                      *[_fmt(m[k], m["ci"][k]) for k in keys])
    console.print(table)
    console.print(f"Report: [bold]{Path(result['run_dir']) / 'report.html'}[/]", soft_wrap=True)
