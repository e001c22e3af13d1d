"""Replay the seed paper's human-flourishing study from its public replication folder.

The folder is ``flourishing/`` of github.com/siacus/rethinking-scale (Carammia, Iacus, Porro
2024, CC BY 4.0), with its CSV files plain or gzipped: ``sample.csv`` (the tweets),
``all-llms-codings.csv`` (GPT-4 and LLaMA-2 proposals, each with a coder's accept/reject),
``classified-*.csv`` (the paper's models' predictions) and ``summaryOld.csv`` (the authors'
figures). Steps: import the tweets into a study with the built-in graded ``flourishing``
codebook; import the proposals and replay the decisions; acceptance rates; fine-tune a model
on the verified labels of the training split; evaluate it, TF-IDF + SVM and every paper
model's predictions on the same held-out verified tweets, in one report.html.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replicoder import importer
from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.io.readers import open_table
from replicoder.progress import Progress
from replicoder.train.config import TrainConfig

__all__ = ["FRACTIONS", "MODEL", "Replay", "paper_figures", "paper_sizes", "predictions_files",
           "recipe", "replay", "source"]

MODEL = "flourishing-classifier"
TWEETS, PROPOSALS, SUMMARY = "sample", "all-llms-codings", "summaryOld"
# (test, validation) shares of the verified tweets: the paper fine-tuned on about 1,900 of
# its verified tweets, and 10% + 5% held out leaves 1,872 of the 2,202 verified here.
FRACTIONS = (0.10, 0.05)
MAX_LENGTH = 96  # tokens; 95% of the tweets are shorter
PAPER_KEYS = {"accD": "label_accuracy", "accI": "intensity_accuracy", "FN": "fn_rate",
              "FP": "fp_rate", "jac": "jaccard", "ham": "hamming_loss"}


@dataclass
class Replay:
    """What each step gave; ``evaluation`` is :func:`replicoder.evaluate.evaluate_models`'s
    result (its run folder holds report.html)."""

    study: study_mod.Study
    documents: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    proposals: int = 0
    decisions: int = 0
    review: dict[str, Any] = field(default_factory=dict)
    verified: int = 0
    training: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    paper: dict[str, dict[str, float]] = field(default_factory=dict)


def source(data: Path, stem: str) -> Path:
    """``data/STEM.csv.gz`` or ``data/STEM.csv``; a clear error naming where to get it."""
    for name in (f"{stem}.csv.gz", f"{stem}.csv"):
        if (Path(data) / name).is_file():
            return Path(data) / name
    raise ReplicoderError(
        f"{data}: no {stem}.csv or {stem}.csv.gz; give the folder flourishing/ of "
        "github.com/siacus/rethinking-scale (the paper's replication data)")


def predictions_files(data: Path) -> dict[str, Path]:
    """The paper's predictions in ``data``: name (file stem without "classified-") -> path."""
    found: dict[str, Path] = {}
    for path in sorted(Path(data).glob("classified-*.csv*")):
        name = path.name.split(".csv")[0].removeprefix("classified-")
        found.setdefault(name, path)
    return found


def paper_sizes(names: list[str]) -> dict[str, float]:
    """Parameters of the paper's models, read from their names ("L2-13B-FT" -> 13e9), for
    the report's size figure; a name without a size (chatgpt4) is left out."""
    import re

    found = {name: re.search(r"-(\d+(?:\.\d+)?)B(?:-|$)", name) for name in names}
    return {name: float(m.group(1)) * 1e9 for name, m in found.items() if m}


def paper_figures(data: Path) -> dict[str, dict[str, float]]:
    """The authors' figures per predictions name from summaryOld.csv, in replicoder's metric
    names (accD -> label_accuracy ...); empty when the file is absent."""
    try:
        path = source(data, SUMMARY)
    except ReplicoderError:
        return {}
    rows = [record for _, record in open_table(path).rows]
    return {r["fname"].removeprefix("classified-"):
            {ours: float(r[theirs]) for theirs, ours in PAPER_KEYS.items()} | {"n": float(r["n"])}
            for r in rows}


def _tweets(data: Path, out: Path) -> list[str]:
    """Copy the tweets to ``out`` keeping the first of each id (the sample repeats one id
    with two texts, which import would refuse); returns the ids dropped."""
    seen: set[str] = set()
    dropped: list[str] = []
    table = open_table(source(data, TWEETS))
    with out.open("w", encoding="utf-8", newline="") as dst:
        writer = csv.DictWriter(dst, fieldnames=table.columns)
        writer.writeheader()
        for _, row in table.rows:
            if row["message_id"] in seen:
                dropped.append(row["message_id"])
                continue
            seen.add(row["message_id"])
            writer.writerow(row)
    return dropped


def recipe(base: str = "embedded", epochs: int = 3, seed: int = 0) -> TrainConfig:
    """The replay's fine-tuning settings: classifier mode on the verified labels. The head
    learns at 3e-3: its 138 sigmoids see few positives each, and at 1e-3 validation micro-F1
    was still climbing steeply at the last epoch (test Jaccard 0.211 against 0.226 at 3e-3,
    bench/results/flourishing_replay*.json)."""
    return TrainConfig(base=base, source="verified", epochs=epochs, max_length=MAX_LENGTH,
                       lr=1e-3, head_lr=3e-3, seed=seed)


def replay(data: Path, root: Path, config: TrainConfig | None = None, *, n_boot: int = 1000,
           seed: int = 0, progress: Progress | None = None,
           fractions: tuple[float, float] = FRACTIONS) -> Replay:
    """Run the whole replay into a new study at ``root``; see the module docstring.

    ``config``: the fine-tuning settings (default: :func:`recipe`). ``fractions``: the
    (test, validation) shares of the study's split. ``progress`` follows the training steps.
    """
    from replicoder.evaluate.compare import ExternalSpec, evaluate_models
    from replicoder.review.acceptance import acceptance_data
    from replicoder.review.replay import import_proposals
    from replicoder.train import train

    data = Path(data)
    proposals_path = source(data, PROPOSALS)
    study = study_mod.init(Path(root), "flourishing", seed=seed, test_fraction=fractions[0],
                           validation_fraction=fractions[1])
    result = Replay(study)
    inputs = study.root / "inputs"
    inputs.mkdir(exist_ok=True)
    tweets = inputs / "tweets.csv"
    result.duplicate_ids = _tweets(data, tweets)
    imported = importer.import_file(study, tweets, text="tweet_text", id="message_id",
                                    meta=["tweet_lang"])
    result.documents = imported.added
    replayed = import_proposals(study, proposals_path, doc_column="id",
                                label_column="dimension", intensity_column="value",
                                annotator_column="llm", decision_column="accepted",
                                coder_column="coder")
    result.proposals, result.decisions = replayed.proposals, replayed.decisions_added
    with study.store() as store:
        result.review = acceptance_data(store, seed)
        result.verified = len(store.verified())
    config = config or recipe(seed=seed)
    trained = train(study, MODEL, config, progress=progress)
    result.training = {**trained.metrics, "notes": trained.notes,
                       "n_train": trained.manifest["data"]["n_train"]}
    spec = ExternalSpec(id_column="id", label_column="dimension", intensity_column="value",
                        drop_unknown=True)
    files = predictions_files(data)
    result.evaluation = evaluate_models(study, [MODEL], baseline="tfidf", train_rows=False,
                                        n_boot=n_boot, seed=seed,
                                        external=files, external_spec=spec,
                                        parameters=paper_sizes(list(files)))
    result.paper = paper_figures(data)
    return result
