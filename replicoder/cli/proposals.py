"""Command: import-proposals (labels proposed, and decided, outside replicoder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from replicoder.cli.common import StudyOption, console, study_at


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("import-proposals")(import_proposals)


def _values(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def import_proposals(
    file: Annotated[Path, typer.Argument(help="CSV/TSV/JSONL/Parquet file, one row per "
                                              "document x proposed label.")],
    doc_column: Annotated[str, typer.Option(help="Column with the document id (as imported "
                                                 "with `replicoder import --id`).")],
    label_column: Annotated[str, typer.Option(help="Column with the label: a code, name or "
                                                   "alias (name:intensity in a graded "
                                                   "codebook unless --intensity-column).")],
    annotator_column: Annotated[str, typer.Option(help="Column naming who proposed the label "
                                                       "(an LLM, a tool, a person).")],
    intensity_column: Annotated[str | None, typer.Option(
        help="Column with the label's intensity (graded codebooks).")] = None,
    decision_column: Annotated[str | None, typer.Option(
        help="Column with a coder's accept/reject of the label; replayed as review "
        "decisions. Needs --coder-column.")] = None,
    coder_column: Annotated[str | None, typer.Option(
        help="Column naming the coder who made the decision.")] = None,
    accept_values: Annotated[str, typer.Option(
        help="Comma-separated decision values meaning 'accepted' (any case).")
    ] = "Y,yes,1,true,accepted,kept",
    reject_values: Annotated[str, typer.Option(
        help="Comma-separated decision values meaning 'rejected' (any case).")
    ] = "N,no,0,false,rejected",
    encoding: Annotated[str, typer.Option(help="Text encoding of the file.")] = "utf-8",
    study: StudyOption = Path("."),
) -> None:
    """Import labels proposed outside replicoder, and optionally the coders' decisions.

    Proposals are stored per (document, annotator) with provenance (the file and its
    sha256). With --decision-column and --coder-column each coder's accept/reject is
    replayed as a review decision (kept = accepted, rejected = the rest shown to that
    coder), so `review agreement`, verification and `export verified` work as if it had
    been made in the app; each row is also kept, so acceptance rates count row by row.
    All or nothing; importing the same file again adds nothing.

    Example (the human-flourishing study): replicoder import-proposals
    all-llms-codings.csv.gz --doc-column id --label-column dimension --intensity-column
    value --annotator-column llm --decision-column accepted --coder-column coder
    """
    from replicoder.review.replay import import_proposals as run

    st = study_at(study)
    result = run(st, file, doc_column=doc_column, label_column=label_column,
                 annotator_column=annotator_column, intensity_column=intensity_column,
                 decision_column=decision_column, coder_column=coder_column,
                 accept_values=_values(accept_values), reject_values=_values(reject_values),
                 encoding=encoding)
    who = ", ".join(f"{a} {n:,}" for a, n in sorted(result.annotators.items()))
    console.print(f"Read {result.rows:,} rows ({who}): {result.proposals:,} proposals "
                  "(document x annotator).")
    if decision_column:
        console.print(f"Replayed {result.decisions_added:,} review decisions "
                      f"({result.decisions_unchanged:,} already there) by coders "
                      f"{', '.join(sorted(result.coders))}; {result.judgements_added:,} new "
                      "judgement rows.")
        if result.unclear:
            console.print(f"{result.unclear:,} decisions kept two intensities of one label: "
                          "left unclear, for `replicoder review adjudicate`.")
