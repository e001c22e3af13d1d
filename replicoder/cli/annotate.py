"""Commands: annotate, add-annotator (issue 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from replicoder.cli.common import StudyOption, console, err_console, study_at
from replicoder.cli.progress import Bars


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    from replicoder.cli.annotate_check import check

    group = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    group.callback()(annotate)
    group.command("check")(check)
    app.add_typer(group, name="annotate")
    app.command("add-annotator")(add_annotator)


def annotate(
    ctx: typer.Context,
    annotator: Annotated[list[str] | None, typer.Option(
        "--annotator", "-a", help="Annotator to run (repeatable; default: all in "
        "replicoder.toml).", show_default=False)] = None,
    limit: Annotated[int | None, typer.Option(
        help="Annotate only the first N documents (after --sample).", show_default=False)
    ] = None,
    sample: Annotated[int | None, typer.Option(
        help="Annotate N documents drawn at random with --seed.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of --sample.")] = 0,
    plan: Annotated[bool, typer.Option(
        "--plan", help="Print requests, estimated tokens, cost and time per annotator; "
        "send nothing.")] = False,
    max_cost: Annotated[float | None, typer.Option(
        "--max-cost", help="Spend at most USD on these annotators, counted across runs (what "
        "study.db records); a request starts only if its worst case (prompt bytes as tokens, "
        "max_tokens of answer) still fits. Stops cleanly and says what the rest would cost.",
        show_default=False)] = None,
    batch: Annotated[bool, typer.Option(
        "--batch", help="Send each HTTP annotator's requests as one OpenAI-style batch (files "
        "+ batches endpoints) at the batch price; the batch id is kept in study.db, so a "
        "killed command resumes polling it instead of paying twice.")] = False,
    repeats: Annotated[int, typer.Option(
        help="Ask each annotator K times (repeat r is stored as NAME~r, seed + r - 1); "
        "`agreement` then reports stability across repeats and across prompts.")] = 1,
    temperature: Annotated[float | None, typer.Option(
        help="Temperature for every annotator in this run (with --repeats: > 0 makes the "
        "repeats differ; scoring annotators then sample a label from their probabilities).",
        show_default=False)] = None,
    poll_seconds: Annotated[float, typer.Option(
        help="--batch: seconds between looks at a batch.")] = 30.0,
    study: StudyOption = Path("."),
) -> None:
    """Let the study's LLM annotators propose codebook labels for its documents.

    Every request and answer is cached in study.db: a re-run sends nothing new and gives
    the same labels; after Ctrl-C or a crash, run it again to go on where it stopped.
    Answers the parser cannot read are kept as 'unparsed' and counted. API keys come from
    the environment variable each annotator names (api_key_env).

    Example: replicoder annotate --annotator smol --sample 200 --seed 1 --plan

    `replicoder annotate check -a NAME` tests an annotator against the codebook first.
    """
    if ctx.invoked_subcommand is not None:
        return
    from replicoder.annotate.planning import plan as make_plan
    from replicoder.annotate.runner import annotate as run

    st = study_at(study)
    if plan:
        rows = make_plan(st, annotator, limit=limit, sample=sample, seed=seed)
        table = Table(title="Plan (nothing sent; tokens estimated, cost an upper bound)")
        for col in ("annotator", "backend", "model", "documents", "cached", "requests",
                    "tokens in", "tokens out", "cost", "batch cost", "time at rate limit"):
            table.add_column(col, justify="left" if col in ("annotator", "backend", "model")
                             else "right")
        for r in rows:
            when = (_duration(r.seconds) if r.seconds is not None
                    else "runs locally" if r.backend == "local" else "no limit set")
            table.add_row(r.annotator, r.backend, r.model, f"{r.documents:,}", f"{r.cached:,}",
                          f"{r.requests:,}", f"~{r.input_tokens:,}", f"≤{r.output_tokens:,}",
                          f"≤${r.cost:,.4f}",
                          f"≤${r.batch_cost:,.4f}" if r.backend == "openai" else "–", when)
        wide_print(table)
        return
    try:
        with Bars() as progress:
            summary = run(st, annotator, limit=limit, sample=sample, seed=seed,
                          progress=progress, max_cost=max_cost, batch=batch,
                          poll_s=poll_seconds, repeats=repeats, temperature=temperature)
    except KeyboardInterrupt:  # click would turn it into a bare "Aborted!"
        err_console.print("interrupted: finished answers are saved; run the command again to "
                          "go on (nothing answered will be sent again)")
        raise typer.Exit(130) from None
    table = Table(title=f"annotate run {summary.run_id}")
    for col in ("annotator", "documents", "from cache", "sent", "ok", "unparsed", "retries",
                "tokens in", "tokens out", "cost", "docs/s"):
        table.add_column(col, justify="left" if col == "annotator" else "right")
    for a in summary.annotators:
        table.add_row(a.name, f"{a.documents:,}", f"{a.cached:,}", f"{a.sent:,}", f"{a.ok:,}",
                      f"{a.unparsed:,}", f"{a.retries:,}", f"{a.input_tokens:,}",
                      f"{a.output_tokens:,}", f"${a.cost:,.4f}", f"{a.docs_per_s:.2f}")
    wide_print(table)
    for a in summary.annotators:
        if a.left:
            err_console.print(
                f"[yellow]{a.name}: stopped by the cost cap ({a.stopped_by}): {a.documents:,} "
                f"documents done, {a.left:,} left, which would cost about ${a.left_cost:,.4f} "
                "more (estimated as --plan does). Raise the cap and run again to go on.[/]")
        if a.cut:
            err_console.print(f"note: {a.name}: {a.cut:,} documents were longer than its "
                              "model's context allows and were cut, with a note in the "
                              "prompt saying so (provenance cut_tokens)")
    console.print(f"Manifest: {summary.manifest_path}")


def wide_print(table: Table) -> None:
    """Print a table whole: a pipe or a log file is not cut at 80 columns."""
    if console.is_terminal:
        console.print(table)
    else:
        Console(width=max(console.width, table_width(table))).print(table)


def table_width(table: Table) -> int:
    return Console(width=10_000).measure(table).maximum


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def add_annotator(
    name: Annotated[str, typer.Argument(help="A short name for the annotator.")],
    backend: Annotated[str, typer.Option(
        help="'local' (a Hugging Face model run here) or 'openai' (any OpenAI-compatible "
        "endpoint: OpenAI, vLLM, Ollama, llama.cpp, replicoder serve).")] = "local",
    model: Annotated[str, typer.Option(
        help="local: 'embedded', a hub id, a folder or a .gguf file; openai: the model "
        "name the server knows.")] = "embedded",
    base_url: Annotated[str, typer.Option(
        help="openai backend: the endpoint, e.g. http://127.0.0.1:8000/v1 (default: OpenAI).")
    ] = "",
    api_key_env: Annotated[str, typer.Option(
        help="NAME of the environment variable holding the API key (never the key).")] = "",
    template: Annotated[str, typer.Option(
        help="'default' (labels with descriptions), 'short' (names only) or a Jinja file.")
    ] = "",
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 64,
    requests_per_minute: Annotated[float, typer.Option(help="Rate limit (0: none).")] = 0.0,
    max_concurrency: Annotated[int, typer.Option(help="Parallel requests (openai).")] = 4,
    price_input_per_1k: Annotated[float, typer.Option(help="Price per 1k input tokens.")] = 0.0,
    price_output_per_1k: Annotated[float, typer.Option(help="Price per 1k output tokens.")
    ] = 0.0,
    answer: Annotated[str, typer.Option(
        help="'score' (rate each label's answer: always a valid label, with probabilities; "
        "local models only), 'generate' (free text, read back) or 'auto' (score when "
        "local).")] = "auto",
    scoring: Annotated[str, typer.Option(
        help="How label scores are read: FORM-REDUCTION[-cf], FORM 'code' or 'name', "
        "REDUCTION 'sum', 'first' or 'mean', '-cf' minus a content-free prompt's scores.")
    ] = "",
    replace: Annotated[bool, typer.Option(help="Overwrite an annotator of that name.")] = False,
    study: StudyOption = Path("."),
) -> None:
    """Add an \\[\\[annotators]] entry to replicoder.toml (rewritten atomically).

    Example: replicoder add-annotator gpt --backend openai --model gpt-4o-mini
    --api-key-env OPENAI_API_KEY --requests-per-minute 500
    """
    from replicoder.annotate.config import AnnotatorConfig
    from replicoder.annotate.config import add_annotator as add
    from replicoder.models.label_scores import DEFAULT_VARIANT

    st = study_at(study)
    add(st, AnnotatorConfig(
        name=name, backend=backend, model=model, base_url=base_url, api_key_env=api_key_env,
        template=template, temperature=temperature, max_tokens=max_tokens,
        requests_per_minute=requests_per_minute, max_concurrency=max_concurrency,
        price_input_per_1k=price_input_per_1k, price_output_per_1k=price_output_per_1k,
        answer=answer, scoring=scoring or DEFAULT_VARIANT,
    ), replace=replace)
    console.print(f"Added annotator [bold]{name}[/] ({backend}, {model}) to "
                  f"{st.root / 'replicoder.toml'}.")
