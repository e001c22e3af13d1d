"""Command: classify, a corpus labelled by a trained model (local or on Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from replicoder.cli.common import StudyOption, console, err_console, study_at
from replicoder.cli.progress import Bars


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("classify")(classify)


def classify(
    model: Annotated[str, typer.Option(help="Name of a model made by `replicoder train`.")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet, .csv, .jsonl or .dta "
                                           "(Stata); with --engine ray a folder that "
                                           "receives a Parquet dataset.")],
    input: Annotated[Path | None, typer.Argument(help="CSV, TSV, JSONL or Parquet file "
                                                      "(optionally .gz); with --engine ray "
                                                      "also a folder of them or a quoted "
                                                      "glob. Leave out to classify the "
                                                      "study's documents.")]
    = None,
    text: Annotated[str, typer.Option(help="Column with the text.")] = "text",
    id: Annotated[str | None, typer.Option("--id", help="Column with document ids "
                                                       "(default: the row number).")] = None,
    batch_size: Annotated[int | None, typer.Option(
        help="Documents per forward pass (default: 32 on the CPU; on cuda 1024, or 512 "
             "with under 16 GiB free; a resumed job keeps its batch).")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="Save results every N documents; "
                                                       "a rerun resumes from there.")] = 1000,
    route_below: Annotated[float | None, typer.Option(help="Send documents whose top score "
                                                           "is below this to an annotator.")]
    = None,
    route_to: Annotated[str | None, typer.Option(help="Annotator (from replicoder.toml) for "
                                                      "routed documents, or 'review': queue "
                                                      "them for the coders, with the model's "
                                                      "labels as proposals.")] = None,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda if "
                                                    "present).")] = None,
    engine: Annotated[Literal["local", "ray"], typer.Option(
        help="local: this process; ray: a pool of Ray actors (pip install "
             "'replicoder\\[ray]').")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster to use: auto (the one "
                                                     "this node belongs to) or "
                                                     "ray://HOST:10001; default: start a "
                                                     "local Ray.")] = None,
    workers: Annotated[int | None, typer.Option(help="Ray actors, each holding the model "
                                                     "once (default: one per GPU, else "
                                                     "1).")] = None,
    gpus_per_worker: Annotated[float, typer.Option(help="GPUs per Ray actor where the "
                                                        "cluster has GPUs.")] = 1.0,
    skip_unreadable: Annotated[bool, typer.Option(
        "--skip-unreadable", help="--engine ray on a folder or glob: leave out the files it "
        "cannot read (.txt, .xlsx, ...; listed in a warning and the manifest) instead of "
        "stopping.")] = False,
    study: StudyOption = Path("."),
) -> None:
    """Label a corpus with a trained model: per-label scores, labels and provenance.

    Streams the input, batches documents of similar length, and saves a checkpoint every
    N documents: if the job is killed, run the same command again and it goes on where
    it stopped, without repeating or duplicating rows. With --route-below P --route-to
    A, documents the model is unsure about are answered by annotator A instead (the
    output says which answer was used); with --route-to review they go into the review
    queue with the model's labels as proposals, and `replicoder export corpus` later gives
    the humans' answers where they exist and the model's elsewhere.

    With --engine ray the blocks of --checkpoint-every documents are spread over a pool
    of Ray actors (GPU actors where the cluster has GPUs); each block becomes one Parquet
    part in the --out folder, and a rerun skips the parts already written.

    Example: replicoder classify corpus.csv --model bills --out coded.parquet --id doc_id
    """
    if skip_unreadable and engine != "ray":
        from replicoder.errors import ReplicoderError

        raise ReplicoderError("--skip-unreadable is for --engine ray on a folder or glob; "
                              "the local engine reads one file")
    if engine == "ray":
        _classify_ray(model, out, input, text, id, batch_size or 32, checkpoint_every,
                      route_below, route_to, address, workers,
                      0.0 if device == "cpu" else gpus_per_worker, study, skip_unreadable)
        return
    from replicoder.classify.local import classify as run_classify

    with Bars() as progress:
        result = run_classify(study_at(study), model, out, input=input, text=text,
                              id_column=id, batch_size=batch_size,
                              checkpoint_every=checkpoint_every, route_below=route_below,
                              route_to=route_to, device=device, progress=progress)
    routed = f", {result.routed} answered by {route_to}" if route_to else ""
    resumed = f" (resumed after {result.resumed_from})" if result.resumed_from else ""
    console.print(
        f"Classified {result.documents} documents{resumed} at {result.docs_per_s:.1f} docs/s"
        f"{routed}: {result.out}"
    )
    _warn(result.warnings, result.cut_warning)


def _classify_ray(model: str, out: Path, input: Path | None, text: str, id: str | None,
                  batch_size: int, checkpoint_every: int, route_below: float | None,
                  route_to: str | None, address: str | None, workers: int | None,
                  gpus_per_worker: float, study: Path, skip_unreadable: bool) -> None:
    from replicoder.errors import ReplicoderError

    if input is None:
        raise ReplicoderError("--engine ray classifies files: give INPUT (a file, folder or "
                              "quoted glob); export the study's documents first")
    if route_below is not None or route_to is not None:
        raise ReplicoderError("routing to an annotator runs with the local engine only; "
                              "leave out --engine ray")
    from replicoder.classify.ray_engine import classify_ray

    result = classify_ray(study_at(study), model, input, out, text=text, id_column=id,
                          address=address, workers=workers, gpus_per_worker=gpus_per_worker,
                          batch_size=batch_size, block_rows=checkpoint_every,
                          skip_unreadable=skip_unreadable)
    resumed = f" ({result.resumed_blocks} blocks were done before)" \
        if result.resumed_blocks else ""
    console.print(
        f"Classified {result.documents} documents in {result.blocks} blocks{resumed} at "
        f"{result.docs_per_s:.1f} docs/s: {result.out}"
    )
    _warn(result.warnings, result.cut_warning)


def _warn(warnings: list[str], cut_warning: str | None) -> None:
    """The run's warnings, then the one about documents cut (both engines)."""
    for warning in [*warnings, *([cut_warning] if cut_warning else [])]:
        err_console.print(f"warning: {warning}")
