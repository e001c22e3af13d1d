"""Write bench/README.md's table of benchmark results from bench/results/*.json.

    .venv/bin/python bench/index.py           # rewrite the table in bench/README.md
    .venv/bin/python bench/index.py --check   # exit 1 if the table is out of date

The table sits between <!-- bench-index --> and <!-- /bench-index --> in bench/README.md.
Each results file gets one row; a benchmark's row is read by its summary function below
(files from other benchmarks get their ratios listed). tests/test_bench.py checks that the
table matches the files.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from replicoder import atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "bench" / "README.md"
START, END = "<!-- bench-index -->", "<!-- /bench-index -->"
HEADER = ("| results | script | what it measured | headline | against the baseline | date |\n"
          "|---|---|---|---|---|---|\n")

Row = tuple[str, str, str]  # what it measured, headline, ratio against the baseline


def _import(d: dict[str, Any]) -> Row:
    imp, tenth = d["import"], d["import_tenth"]
    return (f"{d['rows']:,}-row CSV import vs parsing it with `csv` alone",
            f"{imp['rows_per_s'] / 1000:.0f}k rows/s, peak {imp['peak_mib']:.0f} MiB "
            f"({tenth['rows']:,} rows: {tenth['peak_mib']:.0f} MiB); "
            f"re-import adds {d['reimport']['added']}",
            f"{d['import_vs_parse_ratio']:.2f} × plain parsing")


def _baseline(d: dict[str, Any]) -> Row:
    split, svm = d["reference_split"], d["reference_split"]["tfidf_svm"]
    logreg = split["logreg_C10"]
    return (f"TF-IDF + linear SVM on the reference split ({split['n_train']:,} train, "
            f"{split['n_test']:,} test)",
            f"accuracy {svm['accuracy']:.3f}, macro-F1 {svm['f1_macro']:.3f}; logistic "
            f"regression {logreg['accuracy']:.3f} / {logreg['f1_macro']:.3f}",
            f"{split['svm_vs_logreg_accuracy_ratio']:.2f} × logistic regression accuracy")


TRAIN_DEFAULTS = {"modes": "classifier,generative", "epochs": "3", "train_limit": "None",
                  "validation": "300", "zero_shot": "0", "lr": "None", "batch_size": "16",
                  "test_limit": "None", "run": "[]", "ensemble": "False",
                  "step_speed": "0", "threads": "None", "reference": "None",
                  "reference_weight": "None"}


def _train_runs(d: dict[str, Any]) -> Row:
    """Paired recipe runs (--run): each run's test figures, and the ensemble's."""
    runs = d["runs"]
    first = next(iter(runs.values()))
    parts = []
    first_blind = _weight_blind(first)
    for label, r in runs.items():
        when = "trained earlier" if r.get("reference") else f"in {r['train_minutes']:.1f} min"
        text = f"{label} {r['subset_accuracy']:.3f} / {r['f1_macro']:.3f} {when}"
        if "paired" in r:
            text += f" ({_paired(r['paired'])} vs {r['vs_first']})"
        if _weight_blind(r):
            text += " (+TF-IDF: not shown, its weight was chosen on titles trained on)"
        elif "ensemble" in r:
            e = r["ensemble"]
            text += (f" (+TF-IDF w={e['weight']:g}: {e['subset_accuracy']:.3f} / "
                     f"{e['f1_macro']:.3f}")
            text += (f", {_paired(r['paired_ensemble'])})" if "paired_ensemble" in r
                     and not first_blind else ")")
        parts.append(text)
    tfidf = first.get("tfidf_same_train", d["tfidf_svm"])
    best = max(runs, key=lambda k: runs[k]["subset_accuracy"])
    epochs = first["config"]["epochs"]
    loads = [r[k][0] for r in runs.values() for k in ("load_before", "load_after")]
    return (f"paired classifier runs, accuracy / macro-F1 ({first['n_train']:,} train, "
            f"{d['n_test']:,} test, {epochs} epoch{'s' if epochs != 1 else ''}, lr "
            f"{first['config']['lr']:g}, load average {min(loads):.1f}-{max(loads):.1f})",
            "; ".join(parts),
            f"best ({best}) {runs[best]['subset_accuracy'] / tfidf['subset_accuracy']:.2f} × "
            f"TF-IDF on the same documents ({tfidf['subset_accuracy']:.3f})")


def _weight_blind(r: dict[str, Any]) -> bool:
    """A refit run whose TF-IDF weight was chosen on the validation titles it trained on
    (an earlier bench_train.py let that happen for --reference): no valid figure."""
    e = r.get("ensemble")
    return bool(e and r.get("config", {}).get("refit") and not e.get("weight_fixed"))


def _paired(p: dict[str, Any]) -> str:
    low, high = p["ci"]
    return f"{p['difference']:+.3f} [{low:+.3f}, {high:+.3f}]"


def _train_speed(d: dict[str, Any]) -> Row:
    """--step-speed: training docs/s of each --run, measured in turns."""
    speed = d["step_speed"]
    first = next(iter(speed))
    return (f"classifier training speed of paired settings, taking turns "
            f"({d['args'].get('threads', 'all')} threads, load average "
            f"{d['load_before'][0]:.1f} before)",
            "; ".join(f"{k} {v['docs_per_s']:.1f} docs/s" for k, v in speed.items()),
            "; ".join(f"{k} {v['ratio_vs_' + first]:.2f} × {first}" for k, v in speed.items()
                      if k != first))


def _train(d: dict[str, Any]) -> Row:
    if "step_speed" in d:
        return _train_speed(d)
    if "runs" in d:
        return _train_runs(d)
    mode = "generative" if "generative" in d else "classifier"
    m, tfidf = d[mode], d["tfidf_svm"]
    config = m["config"]
    headline = (f"accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f} after "
                f"{m['train_minutes']:.1f} min")
    if "zero_shot" in d:
        headline += f"; zero-shot {d['zero_shot']['accuracy']:.2f}"
    epochs = f"{config['epochs']} epoch{'s' if config['epochs'] != 1 else ''}"
    return (f"{mode} LoRA on the embedded model, {epochs}, lr {config['lr']:g}, "
            f"{'bf16' if m['bf16'] else 'fp32'} on {m['device']} ({m['n_train']:,} train, "
            f"{d['n_test']:,} test)", headline,
            f"{m['accuracy'] / tfidf['accuracy']:.2f} × TF-IDF accuracy "
            f"({tfidf['accuracy']:.3f})")


def _classify(d: dict[str, Any]) -> Row:
    return (f"`classify` on {d['docs']:,} titles ({d['device']}, {d['threads']} threads, "
            f"bf16 {d['bf16']}) vs the path before issue 10",
            f"{d['classify_docs_per_s']:.1f} docs/s (before {d['before_docs_per_s']:.1f}); "
            f"label agreement with fp32 {d['label_agreement_with_fp32']:.3f}; forward "
            f"passes at {d['fraction_of_peak']:.2f} of measured matmul peak",
            f"{d['ratio_vs_before']:.2f} × before")


def _annotate(d: dict[str, Any]) -> Row:
    local, base, ratios = d["local"], d["baselines"], d["ratios"]
    return (f"zero-shot annotation of {local['documents']} titles by the embedded model; "
            "local and HTTP backends",
            f"accuracy {local['accuracy']:.2f} (majority class "
            f"{base['majority_accuracy']:.2f}); {local['docs_per_s']:.2f} docs/s; cached "
            f"re-run sends {d['cached_rerun']['sent']} requests",
            f"batch {d['settings']['batch_size']}: {ratios['batch_16_over_batch_1']:.1f} × "
            f"batch 1; HTTP {ratios['http_over_local']:.2f} × local")


def _prefix(d: dict[str, Any]) -> Row:
    cases = {k: v for k, v in d.items() if isinstance(v, dict) and "n" in v}
    return (f"generation on {d['n_titles']} titles with the shared prompt prefix computed "
            "once vs each prompt whole (embedded model, bf16 autocast)",
            "; ".join(f"{k} {v['shared_docs_per_s']:.1f} docs/s (whole "
                      f"{v['whole_docs_per_s']:.1f}; {v['shared_prefix_tokens']} of "
                      f"{v['prompt_tokens_mean']:.0f} tokens shared; same answer "
                      f"{v['same_answers']}/{v['n']} in {'bf16' if v['bf16'] else 'fp32'}"
                      + (f", {v['fp32_same_answers']}/{v['fp32_n']} in fp32" if v['bf16']
                         else "") + ")" for k, v in cases.items()),
            "; ".join(f"{k} {v['shared_over_whole_ratio']:.2f} × whole"
                      for k, v in cases.items()))


def _ensemble_tfidf(d: dict[str, Any]) -> Row:
    v, best = d["variants"], d["chosen_on_validation"]
    return (f"the TF-IDF part of `--with-tfidf`: {len(v)} variants, weight and variant "
            f"chosen on {d['n_validation']} validation titles with the draft model, then "
            f"combined with the refit model on {d['n_test']} test titles",
            "; ".join(f"{k} {r['refit_ensemble']['subset_accuracy']:.3f} / "
                      f"{r['refit_ensemble']['f1_macro']:.3f} (val log-loss "
                      f"{r['validation_log_loss']:.4f})" for k, r in v.items())
            + f"; chosen: {best}, paired "
            + _paired(v[best]["paired_vs_word_C0.5"]) + " vs word_C0.5",
            f"{d['chosen_vs_before_accuracy_ratio']:.3f} × word-only accuracy")


def _serve(d: dict[str, Any]) -> Row:
    seq = d["http_sequential"]
    conc = next(k for k in d if k.startswith("http_concurrency_"))
    same = d["answers_equal_baseline"]
    return (f"`replicoder serve` vs the same generation called directly ({seq['requests']} "
            f"requests, {d['max_tokens']} tokens, {d['device']})",
            f"{seq['requests_per_s']:.3f} requests/s sequential, "
            f"{d[conc]['requests_per_s']:.3f} at concurrency {conc.rsplit('_', 1)[1]}; "
            f"same answers: {all(same.values())}",
            f"{d['http_over_direct_time_ratio']:.2f} × direct time")


def _review(d: dict[str, Any]) -> Row:
    return (f"review page and decision latency over HTTP vs the library call "
            f"({d['documents']:,} documents)",
            f"page {d['http_page_ms']:.0f} ms, decision {d['http_decide_ms']:.0f} ms, "
            f"disagreements page {d['http_disagreements_page_ms']:.0f} ms",
            f"page {d['page_ratio_http_vs_library']:.1f} × library, decision "
            f"{d['decide_ratio_http_vs_library']:.1f} × library")


def _review_scale(d: dict[str, Any]) -> Row:
    return (f"review page and decision through the store at {d['documents']:,} documents",
            f"page {d['page_ms']:.1f} ms, decision {d['decide_ms']:.2f} ms "
            f"(target {d['target_ms']} ms: {'met' if d['meets_target'] else 'missed'})",
            f"{d['speedup_page_vs_baseline']:.0f}× faster page than the list-based queue "
            f"({d['baseline_list_queue_page_ms']:.0f} ms)")


def _estimate(d: dict[str, Any]) -> Row:
    whole = {n: next(r for r in d["results"][str(n)] if r["scope"] == "overall")
             for n in d["sizes"]}
    worst = {n: min(r["ppi"]["coverage_min"] for r in d["results"][str(n)]) for n in d["sizes"]}
    return (f"topic-share intervals, {d['reps']} verified samples of n = "
            f"{', '.join(map(str, d['sizes']))} on {d['corpus_documents']:,} coded bills",
            "; ".join(f"n={n}: PPI coverage min {w['ppi']['coverage_min']:.3f} (worst group "
                      f"{worst[n]:.3f}), classify-and-count "
                      f"{w['classify-and-count']['coverage_mean']:.3f} mean"
                      for n, w in whole.items()),
            "PPI width " + ", ".join(f"{w['ppi_width_over_sample_only']:.2f}"
                                     for w in whole.values()) + " × sample-only")


def _regress(d: dict[str, Any]) -> Row:
    s = d["summary"]
    return (f"regression coefficients on predicted topics (OLS, logit; {len(d['outcomes'])} "
            f"topics; chamber + synthetic covariate), {d['reps']} verified samples of n = "
            f"{', '.join(map(str, d['sizes']))} on {d['corpus_documents']:,} coded bills",
            "; ".join(f"n={n}: coverage min DSL {s[str(n)]['dsl']['coverage_min']:.3f}, PPI++ "
                      f"{s[str(n)]['ppi']['coverage_min']:.3f}, naive "
                      f"{s[str(n)]['naive']['coverage_min']:.3f} (mean "
                      f"{s[str(n)]['naive']['coverage_mean']:.2f})" for n in d["sizes"]),
            "width mean (max) " + ", ".join(
                f"DSL {s[str(n)]['dsl_width_over_sample_only_mean']:.2f} "
                f"({s[str(n)]['dsl_width_over_sample_only_max']:.2f}) / PPI++ "
                f"{s[str(n)]['ppi_width_over_sample_only_mean']:.2f} "
                f"({s[str(n)]['ppi_width_over_sample_only_max']:.2f})"
                for n in d["sizes"]) + " × sample-only")

def _classify_ray(d: dict[str, Any]) -> Row:
    one, two = d["ray_1"], d["ray_2"]
    return (f"`classify --engine ray` vs the local engine, {d['docs']:,} titles, "
            f"{d['base']} model, {d['torch_threads_per_process']} thread per process",
            f"local {d['local']['docs_per_s_wall']:.0f} docs/s, Ray 1 worker "
            f"{one['docs_per_s_wall']:.0f}, 2 workers {two['docs_per_s_wall']:.0f}; same "
            f"labels: {one['labels_identical_to_local']}",
            f"Ray 1 worker {one['ratio_vs_local_wall']:.2f} × local")


def _step_ops(d: dict[str, Any]) -> Row:
    old, new = d["before"], d["after"]
    return (f"operators per classifier training step ({d['base']} model, batch "
            f"{d['batch_size']}, the cuda configuration on the CPU) before and after issue 26",
            f"{old['launching_ops_per_step']:,.0f} → {new['launching_ops_per_step']:,.0f} "
            f"kernel-launching operators ({old['dispatched_casts_per_step']:,.0f} → "
            f"{new['dispatched_casts_per_step']:,.0f} casts; sync operators "
            f"{old['sync_ops_per_step']:.0f} → {new['sync_ops_per_step']:.0f})",
            f"{d['launch_ratio']:.2f} × the launching operators (all dispatched "
            f"{d['ops_ratio']:.2f} ×, profiler events {d['profiler_ratio']:.2f} ×)")


def _reproduce(d: dict[str, Any]) -> Row:
    return (f"`freeze` + `reproduce` of the demo study ({d['documents']:,} titles, {d['base']} "
            f"model, {d['precision']}) vs its evaluate + classify",
            f"passed: {d['reproduce_passed']}; archive {d['archive_bytes'] / 1e6:.1f} MB "
            f"({d['archive_with_base_weights_bytes'] / 1e6:.0f} MB with base weights); "
            f"block size 7: scores moved ≤ {d['block_size_7_largest_score_gap']:.1e}",
            f"{d['ratio_vs_original']:.2f} × original")


def _flourishing_import(d: dict[str, Any]) -> Row:
    rates = "; ".join(f"{a['annotator']} {a['rate']:.1%} of {a['n']:,} (paper "
                      f"{d['paper'][a['annotator']]:.0%})" for a in d["acceptance"])
    agree = d["accept_agreement"]
    return (f"`import-proposals` of the flourishing study ({d['rows']:,} proposal rows with "
            "coders' decisions) and acceptance rates vs the same rates in pandas",
            f"{rates}; accept alpha {agree['alpha']:.2f} over {agree['documents']} tweets "
            f"with 2+ coders; {d['verified']:,} verified",
            f"{d['replay_vs_pandas_ratio']:.0f} × pandas")


def _flourishing_eval(d: dict[str, Any]) -> Row:
    m = d["models"]
    l13 = m["classified-L2-13B-FT"]
    return (f"graded metrics on the paper's own predictions ({len(m)} models, "
            f"{d['gold_documents']:,} verified tweets) vs the authors' summaryOld.csv",
            f"LLaMA-2 13B FT accD {l13['answered']['accD']:.4f} (paper "
            f"{l13['paper']['accD']:.4f}), jac {l13['answered']['jac']:.3f} (paper "
            f"{l13['paper']['jac']:.3f}); accD/accI/FN/FP within "
            f"{d['largest_gap_vs_paper_acc_fn_fp']:.3f} of the paper",
            f"best ({d['best_jaccard_model']}) accD {d['best_accD_vs_no_labels_ratio']:.3f} "
            "× predicting no label")


def _flourishing_replay(d: dict[str, Any]) -> Row:
    m = d["models"]
    ours = m["flourishing-classifier"]
    paper = "; ".join(f"{n} {v['jaccard']:.3f}" for n, v in m.items()
                      if n not in ("flourishing-classifier", "tfidf"))
    return (f"the flourishing replay: fine-tune {d['config']['base']} on {d['n_train']:,} "
            f"verified tweets, evaluate on {d['n_test']} held-out verified tweets next to "
            "TF-IDF and the paper's models",
            f"ours accD {ours['label_accuracy']:.3f}, accI {ours['intensity_accuracy']:.3f}, "
            f"Jaccard {ours['jaccard']:.3f} (TF-IDF {m['tfidf']['jaccard']:.3f}) in "
            f"{d['train_minutes']:.1f} min of training; paper models' Jaccard: {paper}",
            f"Jaccard {d['jaccard_vs_tfidf']:.2f} × TF-IDF")


def _review_order(d: dict[str, Any]) -> Row:
    lc = d["learning_curves"]
    act = lc["uncertain_labels_to_match_random_2000"]
    if "audit" not in d:  # a learning-curves variant (--parts learning)
        return (f"US bills simulation ({lc['seeds']} seeds), learning curves only: "
                f"{d.get('note', '')}",
                f"matches random's accuracy at 2,000 ({lc['random_accuracy_at_2000']:.3f}) "
                f"with {act['mean']:.0f} ± {act['sd']:.0f} labels per seed",
                f"{act['ratio_vs_random']:.2f} × random order's labels")
    au, pl = d["audit"], d["plan"]
    other = "".join(f" (refit every {k.split('_')[1][5:]}: {v['mean']:.0f} ± {v['sd']:.0f})"
                    for k, v in lc.items() if k.startswith("uncertain_batch")
                    and k.endswith("_to_match_random_2000"))
    return (f"US bills simulation ({lc['seeds']} seeds): TF-IDF learning curves in review "
            "order vs random; audit of injected wrong labels; `estimate plan` width vs "
            "obtained",
            f"uncertain order, refit every {lc.get('batch', 50)} labels, matches random's "
            f"accuracy at 2,000 ({lc['random_accuracy_at_2000']:.3f}) with "
            f"{act['mean']:.0f} ± {act['sd']:.0f} labels per seed (accuracy read every "
            f"{lc.get('grid', 50)} labels){other}; audit recall in top 2k: "
            f"{au['noise_5pct']['recall_top_2k_mean']:.2f} (5% noise), "
            f"{au['noise_10pct']['recall_top_2k_mean']:.2f} (10%); plan width error median "
            f"{pl['pilot']['median_relative_error']:.0%} (pilot), "
            f"{pl['scores']['median_relative_error']:.0%} (scores)",
            f"{act['ratio_vs_random']:.2f} × random order's labels; audit "
            f"{au['noise_5pct']['recall_ratio_vs_random_ranking']:.1f} × a random ranking")


def _label_scoring(d: dict[str, Any]) -> Row:
    sc, maj, gen = d["scoring"], d["majority_label"], d["generation"]
    return (f"{d['base']} zero-shot on the demo's {d['n_test']} test titles: label scoring "
            f"({d['chosen']}, best of {len(d['validation'])} ways on {d['n_validation']} "
            "validation titles) vs free generation",
            f"accuracy {sc['accuracy']:.3f} (95% {sc['ci95'][0]:.3f}–{sc['ci95'][1]:.3f}), "
            f"{sc['unreadable']} unreadable; generation {gen['accuracy']:.3f}, "
            f"{gen['unreadable']} unreadable; majority label {maj['share']:.3f}",
            f"{d['scoring_vs_majority_ratio']:.2f} × the majority label's share")


def _long(d: dict[str, Any]) -> Row:
    runs, first = d["runs"], d["first"]
    models = [k for k in runs if k != "tfidf"]
    parts = [f"{k} {runs[k]['accuracy']:.3f} ({1000 * runs[k]['seconds_per_document']:.0f} "
             f"ms/doc, {runs[k]['train_minutes']:.1f} min training"
             + (f"; {_paired(runs[k]['vs_' + first])} vs {first}" if k != first else "")
             + ")" for k in models]
    paper = "; ".join(f"{k} {runs[k]['paper_test_accuracy']:.3f}" for k in runs)
    best = max(models, key=lambda k: runs[k]["accuracy"])
    done = d.get("folds_done", d["folds"])
    part = f"the first {done} of {d['folds']} folds" if done < d["folds"] else \
        f"{d['folds']}-fold cross-validation"
    return (f"EP questions ({d['n_documents']} tested, median 163 words), {part}, embedded "
            "model, each run on the same documents",
            "; ".join(parts) + f"; TF-IDF {runs['tfidf']['accuracy']:.3f}. On the paper's "
            f"{d['n_paper_test']} test questions: {paper}; its LLaMA-2-7B "
            f"{d['paper_l2_7b_test_accuracy']:.3f}",
            f"best ({best}) {_paired(runs[best]['vs_tfidf'])} vs TF-IDF (paired)")


def _long_cue(d: dict[str, Any]) -> Row:
    runs = d["runs"]
    where = "first" if d["args"].get("at_start") == "True" else "last"
    kept = "last" if d["args"].get("keep_last") == "True" else "best-on-validation"
    pooling = d.get("pooling", "mean")  # runs before the log-mean-exp pooled by the mean
    return (f"synthetic documents of ~{d['tokens_median']:,} tokens whose only cue is the "
            f"{where} word; tiny random model, {kept} weights; chunk pools by {pooling}",
            "; ".join(f"{k} {r['test_accuracy']:.2f} on {d['n_test']} held out "
                      f"({r['steps']} steps, {r['train_minutes']:.1f} min)"
                      for k, r in runs.items()), f"chance {d['chance']:.2f}")


def _long_titles(d: dict[str, Any]) -> Row:
    return (f"classify scoring of {d['args']['titles']} bill titles, the windowed scorer vs "
            "the path before it (embedded model, taking turns)",
            f"{d['docs_per_s_now']:.1f} vs {d['docs_per_s_before']:.1f} docs/s; same labels "
            f"{d['same_labels']:.3f}; load {d['load_before'][0]:.1f} to "
            f"{d['load_after'][0]:.1f}", f"{d['now_over_before_ratio']:.2f} × before")


def _recipe(d: dict[str, Any]) -> Row:
    s, t = d["scores"], d["targets"]
    speed = ""
    if "runs" in d:  # older results lack the per-step times and the host calibration
        steps = ", ".join(f"{name} {r['steps']} steps at {r['seconds_per_step']:.2f} s"
                          for name, r in d["runs"].items())
        host = d.get("host_docs_per_s")
        calibration = "" if host is None else (
            f"; host calibration {host['before']:.1f} / {host['after']:.1f} docs/s before / "
            "after")
        speed = f" ({steps}{calibration})"
    return (f"`{d['command']}` as one subprocess on the bills' reference split "
            f"({d['n_train']:,} train + validation, {d['n_test']:,} test), "
            f"{d['cpu_count']} cores",
            f"{s['recipe_best']['subset_accuracy']:.3f} / {s['recipe_best']['f1_macro']:.3f} "
            f"in {d['minutes']:.1f} min{speed} (its draft alone "
            f"{s['default']['subset_accuracy']:.3f}, "
            f"paired {_paired(d['vs_default'])}); target {t['accuracy']} in {t['minutes']:g} "
            f"min: {'met' if t['met'] else 'not met'}",
            f"{_paired(d['vs_tfidf'])} vs TF-IDF ({s['tfidf']['subset_accuracy']:.3f}, paired)")


SUMMARIES: dict[str, Callable[[dict[str, Any]], Row]] = {
    "review_order": _review_order, "recipe": _recipe,
    "label_scoring": _label_scoring,
    "long": _long, "long_cue": _long_cue, "long_titles": _long_titles,
    "flourishing_import": _flourishing_import,
    "classify_ray": _classify_ray,
    "flourishing_eval": _flourishing_eval,
    "flourishing_replay": _flourishing_replay,
    "reproduce": _reproduce,
    "step_ops": _step_ops,
    "estimate": _estimate,
    "regress": _regress,
    "review_scale": _review_scale,
    "import": _import, "baseline": _baseline, "train": _train, "classify": _classify,
    "annotate": _annotate, "serve": _serve, "prefix": _prefix,
    "ensemble_tfidf": _ensemble_tfidf, "review": _review}


def _ratios(d: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in d.items():
        if isinstance(value, dict):
            found += _ratios(value, f"{prefix}{key}.")
        elif "ratio" in key and isinstance(value, int | float):
            found.append(f"{prefix}{key} {value:.2f}")
    return found


def bench_of(stem: str) -> str:
    """The benchmark that wrote results/STEM.json: the longest bench_NAME.py that STEM
    starts with (train_generative.json comes from bench_train.py)."""
    names = sorted((p.stem.removeprefix("bench_") for p in RESULTS.parent.glob("bench_*.py")),
                   key=len, reverse=True)
    return next((n for n in names if stem == n or stem.startswith(n + "_")),
                stem.split("_")[0])


def _flag(key: str, value: str) -> str:
    if key == "run":  # stored as the text of a list: one --run per item
        return "".join(f" --run {item}" for item in ast.literal_eval(value))
    if value == "True":
        return f" --{key}"
    return f" --{key.replace('_', '-')} {value}"


def _script(stem: str, d: dict[str, Any]) -> str:
    bench = bench_of(stem)
    args = d.get("args", {})
    flags = "".join(_flag(k, v) for k, v in args.items()
                    if k in TRAIN_DEFAULTS and v != TRAIN_DEFAULTS[k])
    return f"`bench_{bench}.py{flags}`"


def row(path: Path) -> str:
    d = json.loads(path.read_text("utf-8"))
    summary = SUMMARIES.get(bench_of(path.stem))
    what, headline, ratio = summary(d) if summary else ("", "", "; ".join(_ratios(d)))
    date = str(d.get("created_at", ""))[:10] or "–"
    cells = [f"[{path.name}](results/{path.name})", _script(path.stem, d), what,
             headline, ratio, date]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |\n"


def table(results: Path = RESULTS) -> str:
    return HEADER + "".join(row(p) for p in sorted(results.glob("*.json")))


def with_table(readme: str, results: Path = RESULTS) -> str:
    """The README text with the table between the markers rewritten."""
    if readme.count(START) != 1 or readme.count(END) != 1 or \
            readme.index(START) > readme.index(END):
        raise SystemExit(f"bench/README.md needs one {START} line followed by one {END} line")
    head, rest = readme.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table(results)}{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if bench/README.md's table differs from the results files")
    args = parser.parse_args()
    text = README.read_text("utf-8")
    new = with_table(text)
    if args.check:
        if new != text:
            sys.exit("bench/README.md's benchmark table is out of date: run "
                     ".venv/bin/python bench/index.py")
        return
    if new != text:
        atomic.write_text(README, new)
    print(f"bench/README.md: {len(list(RESULTS.glob('*.json')))} results in the benchmark table")


if __name__ == "__main__":
    main()
