"""Size-aware defaults: small training sets get a higher rate and enough steps, unless the
user chose them; large sets and generative mode are left alone."""

from __future__ import annotations

from typer.testing import CliRunner

from replicoder.cli import app
from replicoder.train import TrainConfig
from replicoder.train.sizing import MIN_STEPS, ensemble_defaults, size_defaults


def test_small_sets_get_a_higher_rate_and_enough_steps() -> None:
    config = TrainConfig(auto_epochs=True)
    assert config.auto_lr and config.lr == 3e-4
    small, notes = size_defaults(config, 134)  # the EP questions' training part
    assert small.lr == 1e-3 and small.epochs == 12  # 9 steps an epoch: capped at 12
    assert len(notes) == 2 and "134 training documents" in notes[0]
    mid, _ = size_defaults(config, 700)  # 44 steps an epoch: 3 epochs make 132
    assert mid.lr == 1e-3 and mid.epochs == 3
    assert size_defaults(small, 134)[0] == small  # applying it again changes nothing
    tiny, _ = size_defaults(config, 300)  # 19 steps an epoch
    assert tiny.epochs * 19 >= MIN_STEPS and tiny.epochs == 6


def test_chosen_settings_large_sets_and_generative_mode_are_left_alone() -> None:
    chosen = TrainConfig(lr=3e-4, epochs=2)
    assert size_defaults(chosen, 134) == (chosen, [])
    assert size_defaults(TrainConfig(auto_epochs=True), 3235)[0].lr == 3e-4
    generative = TrainConfig(mode="generative", auto_epochs=True)
    assert size_defaults(generative, 134) == (generative, [])
    only_rate, notes = size_defaults(TrainConfig(epochs=2), 134)  # --epochs given
    assert only_rate.epochs == 2 and only_rate.lr == 1e-3 and len(notes) == 1


def test_cli_help_explains_the_new_options() -> None:
    res = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.output.replace("│", " ").split())
    for words in ("--max-length", "95th percentile", "--length-cap", "--long",
                  "head-tail", "--recipe", "NAME-draft", "fewer than 1,000 documents"):
        assert words in text, words


def test_the_tfidf_ensemble_is_the_default_for_a_single_label_classifier() -> None:
    config, notes = ensemble_defaults(TrainConfig(), multi_label=False)
    assert config.with_tfidf is True and config.label_smoothing == 0.1 and not notes
    for multi, mode in ((True, "classifier"), (False, "generative")):
        config, _ = ensemble_defaults(TrainConfig(mode=mode), multi_label=multi)
        assert config.with_tfidf is False and config.label_smoothing == 0.0
    given, _ = ensemble_defaults(TrainConfig(with_tfidf=False, label_smoothing=0.2), False)
    assert given.with_tfidf is False and given.label_smoothing == 0.2
    refit, notes = ensemble_defaults(TrainConfig(refit=True), multi_label=False)
    assert refit.with_tfidf is False and "without the TF-IDF ensemble" in notes[0]
    weighed, _ = ensemble_defaults(TrainConfig(refit=True, tfidf_weight=1.0), False)
    assert weighed.with_tfidf is True
