"""Commands: review, review assign/agreement/adjudicate, export verified (issue 5)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from replicoder.cli.common import (
    HostOption,
    PortOption,
    StudyOption,
    console,
    err_console,
    study_at,
)
from replicoder.errors import ReplicoderError

review_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
export_app = typer.Typer(help="Write study results to files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(review_app, name="review")
    app.add_typer(export_app, name="export")


@review_app.callback()
def review(
    ctx: typer.Context,
    coder: Annotated[str | None, typer.Option(
        help="Your coder name (letters, digits, - or _); default: your login name.")] = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8765,
    study: StudyOption = Path("."),
) -> None:
    """Review LLM proposals in a local web app: reject wrong labels, add missing ones.

    Without a subcommand, starts the app and prints its URL (Ctrl-C stops it; nothing is
    lost).
    One document at a time with the labels the LLM annotators proposed: digits toggle a
    label, a adds one from the codebook, u flags unclear, Enter saves and goes on,
    Backspace goes back. Every decision is written to study.db at once.

    Example: replicoder review --coder anna --study my-study
    """
    if ctx.invoked_subcommand is not None:
        return
    from replicoder.review.server import default_coder, serve

    st = study_at(study)
    name = coder or default_coder()

    def announce(url: str) -> None:
        print(f"Review app for study '{st.root.resolve().name}' as coder {name}: {url}",
              flush=True)
        print("Press Ctrl-C to stop; every decision is already saved.", flush=True)

    serve(st, name, host=host, port=port, announce=announce)


@review_app.command("link")
def link(
    coder: Annotated[str, typer.Option(help="The coder the link signs in.")],
    host: Annotated[str, typer.Option(help="Address the review app listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the review app listens on.")] = 8765,
    study: StudyOption = Path("."),
) -> None:
    """Print a coder's personal link to the review app (give it only to that coder).

    Opening the link signs the coder in; pages and decisions of other coders stay closed
    to them. Links stay valid across restarts (the key is in the study's .review-secret;
    delete that file to revoke every link).

    Example: replicoder review link --coder ben
    """
    from replicoder.review.security import CoderKeys
    from replicoder.review.server import coder_link
    from replicoder.review.session import check_name

    st = study_at(study)
    check_name(coder)
    print(coder_link(CoderKeys.for_study(st.root), coder, f"http://{host}:{port}"))


@review_app.command("assign")
def assign(
    coders: Annotated[str, typer.Option(help="Coder names separated by commas, e.g. a,b,c.")],
    overlap: Annotated[float, typer.Option(
        help="Share of documents (0-1) given to two coders to measure agreement.")] = 0.2,
    seed: Annotated[int | None, typer.Option(
        help="Seed for the shuffle (default: the study's seed).")] = None,
    limit: Annotated[int | None, typer.Option(
        help="Assign only the first N documents (in import order).")] = None,
    only_proposed: Annotated[bool, typer.Option(
        "--only-proposed", help="Assign only documents that have LLM proposals.")] = False,
    order: Annotated[str, typer.Option(
        help="Queue order: default (documents with LLM proposals first, import order), "
        "random, uncertain (smallest model margin first), disagreement (LLM annotators "
        "disagree most first; needs no label) or diverse (uncertain, in batches of "
        "dissimilar documents).")] = "default",
    model: Annotated[str | None, typer.Option(
        help="uncertain/diverse: a trained model (models/NAME) gives the margins; default: "
        "TF-IDF + SVM fit on the verified labels so far.")] = None,
    refresh_every: Annotated[int | None, typer.Option(
        help="uncertain/diverse without --model: refit TF-IDF and reorder the undecided "
        "documents every N decisions (smaller: fewer labels for the same accuracy, more "
        "refits; 25 needed fewer labels than 50 on the US bills).")] = 25,
    batch: Annotated[int, typer.Option(help="diverse: documents per batch.")] = 20,
    study: StudyOption = Path("."),
) -> None:
    """Give each document to one coder and an overlap share to two coders.

    Replaces an earlier assignment and order; decisions already made are kept. The order
    and its inputs (model, labels it was fit on, seed) are recorded in study.db. A steered
    order (anything but random) decides which documents get reviewed first, so its verified
    documents are not a random sample: `replicoder estimate` uses only a sample of
    `review sample` (reviewed in random order) and refuses an incomplete one that a steered
    order touched.

    Example: replicoder review assign --coders anna,ben --overlap 0.2 --order uncertain
    """
    from replicoder.review.assignment import assign as do_assign
    from replicoder.review.assignment import parse_coders

    result = do_assign(study_at(study), parse_coders(coders), overlap, seed=seed, limit=limit,
                       only_proposed=only_proposed, order=order, model=model, batch=batch,
                       refresh_every=refresh_every)
    per = ", ".join(f"{c}: {n:,}" for c, n in result.per_coder.items())
    console.print(f"Assigned {result.documents:,} documents ({result.overlap_docs:,} to two "
                  f"coders) in {order} order. Per coder: {per}. Run {result.run_id}.")


@review_app.command("sample")
def sample(
    n: Annotated[int, typer.Argument(help="How many documents to draw.")],
    seed: Annotated[int, typer.Option(
        help="Seed of the draw; the same seed and population give the same sample.")],
    from_: Annotated[Path | None, typer.Option(
        "--from", help="A classified output (`replicoder classify`) whose documents form "
        "the population; default: the study's documents.")] = None,
    strata: Annotated[str | None, typer.Option(
        help="Stratify by this column (of the --from file, else the documents' metadata "
        "imported with --meta), with proportional allocation and at least 2 per stratum.")
    ] = None,
    id_column: Annotated[str, typer.Option("--id", help="Id column of the --from file.")
                         ] = "id",
    coders: Annotated[str | None, typer.Option(
        help="Queue the sample for these coders (comma-separated; replaces earlier "
        "assignments). Default: your login name.")] = None,
    overlap: Annotated[float, typer.Option(
        help="Share of the sample given to two coders to measure agreement.")] = 0.0,
    study: StudyOption = Path("."),
) -> None:
    """Draw a random validation sample and queue it for review (for `replicoder estimate`).

    A simple random sample of N documents, or a stratified one with --strata. The design
    (seed, N, strata with their population and sample sizes, inclusion probabilities, a hash
    of the population and the source file's hash) is stored in study.db, so that
    `replicoder estimate` can correct the classifier's shares with the reviewers' verified
    labels of exactly these documents. Review them with `replicoder review` as usual.

    Example: replicoder review sample 300 --seed 1 --from coded.parquet --strata year
    """
    from replicoder.review.assignment import parse_coders
    from replicoder.review.sample import draw_sample
    from replicoder.review.server import default_coder

    who = parse_coders(coders) if coders else [default_coder()]
    result = draw_sample(study_at(study), n, seed, source=from_, id_column=id_column,
                         strata=strata, coders=who, overlap=overlap)
    design = result.design
    console.print(f"Drew {len(result.doc_ids):,} of {design['population']:,} documents "
                  f"({design['method']} random sample, seed {seed}) as {result.sample_id}.")
    if design["method"] == "stratified":
        table = Table(strata or "stratum", "documents", "sampled", "inclusion probability")
        for h, s in design["strata"].items():
            table.add_row(h, f"{s['population']:,}", f"{s['sample']:,}",
                          f"{s['inclusion_probability']:.4f}")
        console.print(table)
    per = ", ".join(f"{c}: {k:,}" for c, k in result.assigned.items())
    console.print(f"Queued for review ({per}): replicoder review --coder {who[0]}")


@review_app.command("audit")
def audit(
    model: Annotated[str | None, typer.Option(
        help="Probabilities from this trained model (models/NAME), on the labelled "
        "documents it was not trained on; default: TF-IDF + logistic regression "
        "cross-fitted over --folds folds.")] = None,
    top: Annotated[int, typer.Option(
        help="Queue at most this many findings (most sure first) for a second coder.")] = 50,
    folds: Annotated[int, typer.Option(help="Folds of the cross-fitting.")] = 5,
    labels: Annotated[str, typer.Option(
        help="Which labels to audit: both (verified, else gold), verified or gold.")
    ] = "both",
    coder: Annotated[str | None, typer.Option(
        help="The second coder who re-reviews the findings (default: the assigned coder "
        "with the fewest findings who did not decide the document).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only write findings.csv; queue nothing.")] = False,
    study: StudyOption = Path("."),
) -> None:
    """Find gold or verified labels that are probably wrong and queue them for a second
    coder.

    Every labelled document gets an out-of-sample probability of each label (k-fold
    cross-fitting: a model fit on the other folds scores it); confident learning
    (cleanlab) flags a label when the model confidently puts the document in another
    class. Findings are ranked by how sure they are (lowest probability of the given label
    first) and written to runs/<id>/findings.csv; the top N go first into a second coder's
    queue. The original decision is kept: if the second coder disagrees, the document
    goes to adjudication (`replicoder review adjudicate`). Multi-label codebooks: each
    code present/absent is judged; graded ones: each label's intensity.

    Example: replicoder review audit --top 40 --coder ben
    """
    from replicoder.review.audit import audit as do_audit

    result = do_audit(study_at(study), model=model, top=top, folds=folds, source=labels,
                      coder=coder, queue=not dry_run)
    console.print(f"Audited {result.audited:,} labelled documents: {result.flagged:,} labels "
                  f"look wrong (findings in {result.out}).")
    if result.queued:
        table = Table("rank", "document", "label", "model says", "p(label)", "second coder")
        for f in result.queued[:20]:
            table.add_row(str(f.rank), f.doc_id, ",".join(sorted(f.labels)),
                          ",".join(sorted(f.suggested)), f"{f.quality:.3f}", f.second_coder)
        console.print(table)
        console.print(f"Queued {len(result.queued):,} for a second review (first in the "
                      f"queue); run {result.run_id}.")
    if result.skipped:
        err_console.print(f"[bold yellow]warning:[/] {result.skipped} findings were not "
                          "queued: no coder who had not decided them (give --coder NAME)")


@review_app.command("agreement")
def agreement(
    distance: Annotated[str | None, typer.Option(
        help="'nominal' or 'masi' (default: nominal for single-label, masi for multi-label "
        "codebooks).")] = None,
    show: Annotated[int, typer.Option(help="How many disagreements to list.")] = 20,
    study: StudyOption = Path("."),
) -> None:
    """Krippendorff's alpha between coders, the documents they disagree on, and each
    annotator's acceptance rate.

    Acceptance: the share of an annotator's proposed labels the coders accepted (per label
    per coder who judged it), with a Wilson 95% interval; and coder agreement on those
    accept decisions (alpha over each document x label two coders judged).

    Example: replicoder review agreement --study my-study
    """
    from replicoder.review.acceptance import accept_agreement, acceptance_rates
    from replicoder.review.adjudication import coder_agreement

    st = study_at(study)
    with st.store() as store:
        report = coder_agreement(store, st.codebook, distance, seed=st.seed)
        rates = acceptance_rates(store)
        accept = accept_agreement(store, seed=st.seed)
    if rates:
        rate_table = Table("annotator", "accepted", "judged", "rate", "95% interval",
                           title="Acceptance of proposals")
        for a in rates:
            rate_table.add_row(a.annotator, f"{a.accepted:,}", f"{a.n:,}", f"{a.rate:.1%}",
                               f"{a.low:.1%} to {a.high:.1%}")
        console.print(rate_table)
    if accept.alpha is not None and accept.interval is not None:
        console.print(f"Accept decisions: alpha (nominal) = {accept.alpha:.3f} (95% "
                      f"bootstrap interval {accept.interval[0]:.3f} to "
                      f"{accept.interval[1]:.3f}) over {accept.units:,} document x label "
                      f"units in {accept.documents:,} documents judged by two or more "
                      f"coders; all agree on {accept.all_agree or 0:.1%}.")
    if report.alpha is None:
        console.print("No document was decided by two coders yet: no agreement to report.")
    else:
        low, high = report.interval or (math.nan, math.nan)
        console.print(f"Krippendorff's alpha ({report.distance}) = {report.alpha:.3f} "
                      f"(95% bootstrap interval {low:.3f} to {high:.3f}) over "
                      f"{report.units:,} documents, coders {', '.join(report.coders)}.")
    pending = [d for d in report.disagreements if d.adjudicated is None]
    console.print(f"{len(report.disagreements):,} disagreements or unclear flags, "
                  f"{len(pending):,} not adjudicated yet.")
    if report.disagreements and show > 0:
        table = Table("document", "coders chose", "adjudicated")
        for d in report.disagreements[:show]:
            chose = "; ".join(
                f"{c}: {'unclear' if c in d.unclear else ','.join(sorted(v)) or '-'}"
                for c, v in d.labels.items()
            )
            adj = ",".join(sorted(d.adjudicated.labels)) if d.adjudicated else ""
            table.add_row(d.doc_id, chose, adj)
        console.print(table)


@review_app.command("adjudicate")
def adjudicate(
    doc: Annotated[str | None, typer.Option(help="Document id to resolve.")] = None,
    labels: Annotated[str | None, typer.Option(
        help="Final label codes, separated by commas.")] = None,
    unclear: Annotated[bool, typer.Option(
        "--unclear", help="Leave the document out of the verified set.")] = False,
    coder: Annotated[str | None, typer.Option(
        help="Adjudicator name (default: your login name).")] = None,
    study: StudyOption = Path("."),
) -> None:
    """Resolve a disagreement between coders (or use the app's 'disagreements' page).

    Without --doc, lists the documents that wait for adjudication.

    Example: replicoder review adjudicate --doc 1234 --labels 3 --coder anna
    """
    from replicoder.review import adjudication as agr
    from replicoder.review.policy import party_adjudication
    from replicoder.review.server import default_coder
    from replicoder.review.session import check_name

    st = study_at(study)
    with st.store() as store:
        if doc is None:
            pending = [d for d in agr.disagreements(store) if d.adjudicated is None]
            for d in pending:
                chose = "; ".join(f"{c}: {','.join(sorted(v)) or '-'}"
                                  for c, v in d.labels.items())
                console.print(f"{d.doc_id}  {chose}", highlight=False)
            console.print(f"{len(pending):,} documents wait for adjudication: "
                          "replicoder review adjudicate --doc ID --labels CODES")
            return
        if labels is None and not unclear:
            raise ReplicoderError("--labels: give the final codes (e.g. --labels 3), "
                                  "or --unclear")
        name = coder or default_coder()
        check_name(name)
        codes = [c.strip() for c in (labels or "").split(",") if c.strip()]
        agr.adjudicate(store, st.codebook, name, doc, codes, unclear,
                       allow_party=party_adjudication(st))
    console.print(f"Adjudicated {doc}: {','.join(codes) or 'unclear'} ({name}).")


@export_app.command("verified")
def export_verified(
    out: Annotated[Path, typer.Option(
        help="Output file: .csv, .jsonl or .parquet (format chosen by extension).")],
    study: StudyOption = Path("."),
) -> None:
    """Write the verified set: document id, text, final labels, who decided.

    A document is verified when its coder decided it (all its coders agreed, or an
    adjudicator resolved their disagreement) and nobody left it flagged unclear. A manifest
    is written next to the file (FILE.manifest.json).

    Example: replicoder export verified --out verified.parquet --study my-study
    """
    from replicoder.review.export import export_verified as do_export

    result = do_export(study_at(study), out)
    console.print(f"Wrote {result.rows:,} verified documents to {result.path} "
                  f"(sha256 {result.sha256[:12]}…).")
    if result.party_adjudicated:
        err_console.print(f"note: {result.party_adjudicated:,} of them were adjudicated by one "
                          "of their own coders ([review] party_adjudication = true in "
                          "replicoder.toml); the manifest lists them.")


@export_app.command("corpus")
def export_corpus(
    predictions: Annotated[Path, typer.Option(
        help="Classified output of `replicoder classify` (.parquet, .csv, .jsonl).")],
    out: Annotated[Path, typer.Option(
        help="Output file: .csv, .jsonl or .parquet (format chosen by extension).")],
    id_column: Annotated[str, typer.Option("--id", help="Id column of the predictions.")
                         ] = "id",
    study: StudyOption = Path("."),
) -> None:
    """Write the whole corpus with its final answers: the humans' where they exist, the
    model's elsewhere.

    One row per document of --predictions: id, labels, answered_by ('human', 'model' or
    'annotator' for a routed LLM), who (the coders, e.g. 'anna+ben', or the model's
    name), how ('single', 'agreed', 'adjudicated' or 'predicted') and model_labels. Use it
    after `classify --route-below T --route-to review` and a review of the routed
    documents. A manifest is written next to the file.

    Example: replicoder export corpus --predictions coded.parquet --out final.parquet
    """
    from replicoder.review.routing import export_corpus as do_export

    rows, counts, run_id = do_export(study_at(study), predictions, out, id_column)
    per = ", ".join(f"{k}: {n:,}" for k, n in sorted(counts.items()))
    console.print(f"Wrote {rows:,} documents to {out} ({per}); run {run_id}.")
