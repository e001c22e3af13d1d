"""Agreement statistics against published values, hand computations and sklearn."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from replicoder import study as study_mod
from replicoder.annotate.agreement import agreement_table
from replicoder.cli import app
from replicoder.errors import ReplicoderError
from replicoder.metrics.agreement import (
    alpha_with_interval,
    cohen_kappa,
    kappa_with_interval,
    krippendorff_alpha,
    masi_distance,
    share_all_agree,
)
from replicoder.store import Proposal

F = frozenset


def units_from(rows: list[list[object]]) -> dict[str, dict[str, frozenset[str]]]:
    """Coder rows (None = missing) -> unit -> coder -> singleton label set."""
    units: dict[str, dict[str, frozenset[str]]] = {}
    for coder, row in enumerate(rows):
        for unit, value in enumerate(row):
            if value is not None:
                units.setdefault(f"u{unit}", {})[f"c{coder}"] = F([str(value)])
    return units


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", worked examples A-C.
EXAMPLE_A: list[list[object]] = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
EXAMPLE_B: list[list[object]] = [list("aabbdcccedda"), list("babbbccceddd")]
N = None
EXAMPLE_C: list[list[object]] = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N], [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N], [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


@pytest.mark.parametrize("rows, expected", [(EXAMPLE_A, 0.095), (EXAMPLE_B, 0.692),
                                            (EXAMPLE_C, 0.743)])
def test_alpha_matches_krippendorff_2011(rows: list[list[object]], expected: float) -> None:
    assert krippendorff_alpha(units_from(rows)) == pytest.approx(expected, abs=5e-4)


def test_alpha_ignores_units_with_one_coder_and_edge_cases() -> None:
    units = units_from(EXAMPLE_C)
    units["lonely"] = {"c0": F(["9"])}
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units_from([[1, 2, 3], [1, 2, 3]])) == 1.0
    assert math.isnan(krippendorff_alpha(units_from([[1, 1, 1], [1, 1, 1]])))
    assert math.isnan(krippendorff_alpha({}))
    with pytest.raises(ReplicoderError, match="unknown distance"):
        krippendorff_alpha(units, "ordinal-ish")


def test_masi_distance_by_hand() -> None:
    assert masi_distance(F("ab"), F("ab")) == 0
    assert masi_distance(F("a"), F("ab")) == pytest.approx(1 - 1 / 2 * 2 / 3)
    assert masi_distance(F("ab"), F("bc")) == pytest.approx(1 - 1 / 3 * 1 / 3)
    assert masi_distance(F("a"), F("b")) == 1
    assert masi_distance(F(), F()) == 0 and masi_distance(F(), F("a")) == 1
    assert masi_distance(F("abc"), F("a")) == masi_distance(F("a"), F("abc"))


def test_masi_alpha_by_hand_and_equal_to_nominal_on_singletons() -> None:
    units = {"1": {"x": F("a"), "y": F("ab")}, "2": {"x": F("b"), "y": F("b")},
             "3": {"x": F("ab"), "y": F("c")}}
    # D_o = (2*2/3 + 0 + 2*1) / 6 = 5/9; D_e = 22/30 (value counts a:1 ab:2 b:2 c:1).
    assert krippendorff_alpha(units, "masi") == pytest.approx(1 - (5 / 9) / (22 / 30))
    single = units_from(EXAMPLE_C)
    assert krippendorff_alpha(single, "masi") == pytest.approx(krippendorff_alpha(single))


def test_cohen_kappa_by_hand_and_against_sklearn() -> None:
    assert cohen_kappa([F("1"), F("1"), F("0"), F("0")],
                       [F("1"), F("0"), F("0"), F("0")]) == pytest.approx(0.5)
    rng = random.Random(3)
    for _ in range(5):
        a = [rng.choice("12345") for _ in range(200)]
        b = [x if rng.random() < 0.6 else rng.choice("1234") for x in a]
        assert cohen_kappa([F(x) for x in a], [F(x) for x in b]) == pytest.approx(
            cohen_kappa_score(a, b))
    with pytest.raises(ValueError):
        cohen_kappa([F("1")], [])


def test_bootstrap_intervals_are_seeded_and_cover_the_value() -> None:
    rng = random.Random(5)
    a = [F(rng.choice("abc")) for _ in range(300)]
    b = [x if rng.random() < 0.7 else F(rng.choice("abc")) for x in a]
    value, (lo, hi) = kappa_with_interval(a, b, n_boot=500, seed=1)
    assert lo < value < hi and hi - lo < 0.25
    assert kappa_with_interval(a, b, n_boot=500, seed=1)[1] == (lo, hi)
    assert kappa_with_interval(a, b, n_boot=500, seed=2)[1] != (lo, hi)
    units = {str(i): {"x": x, "y": y} for i, (x, y) in enumerate(zip(a, b, strict=True))}
    alpha, (alo, ahi), n = alpha_with_interval(units, n_boot=500, seed=1)
    assert n == 300 and alo < alpha < ahi
    share, (slo, shi), sn = share_all_agree(units, n_boot=500, seed=1)
    assert sn == 300 and slo < share < shi
    assert share == pytest.approx(sum(x == y for x, y in zip(a, b, strict=True)) / 300)


def _study(tmp_path: Path, multi_label: bool, proposals: list[tuple[str, str, str, str]],
           n_docs: int = 6) -> study_mod.Study:
    """A real study with documents d0.. and proposals (doc, annotator, "1;2", status)."""
    st = study_mod.init(tmp_path / "s", "cap", multi_label=multi_label)
    with st.store() as store:
        store.add_documents((f"d{i}", f"text {i}", f"h{i}", {}, None) for i in range(n_docs))
        store.add_proposals(
            Proposal(d, a, F(c for c in labels.split(";") if c), status, "", {}, "t")
            for d, a, labels, status in proposals)
    return st


SINGLE = [
    ("d0", "a", "1", "ok"), ("d0", "b", "1", "ok"), ("d0", "c", "1", "ok"),
    ("d1", "a", "2", "ok"), ("d1", "b", "2", "ok"), ("d1", "c", "3", "ok"),
    ("d2", "a", "3", "ok"), ("d2", "b", "4", "ok"), ("d2", "c", "", "unparsed"),
    ("d3", "a", "4", "ok"), ("d3", "b", "4", "ok"), ("d3", "c", "4", "ok"),
    ("d4", "a", "5", "ok"), ("d4", "b", "6", "ok"), ("d4", "c", "5", "ok"),
    ("d5", "a", "1", "ok"),
]


def test_agreement_table_single_label(tmp_path: Path) -> None:
    table = agreement_table(_study(tmp_path, False, SINGLE), n_boot=200, seed=0)
    assert table["annotators"] == ["a", "b", "c"] and table["n_documents"] == 6
    assert table["missing"] == {"a": 0, "b": 1, "c": 2}
    ab = table["kappa"][0]
    assert (ab["a"], ab["b"], ab["n"]) == ("a", "b", 5)
    a_labels = ["1", "2", "3", "4", "5"]
    b_labels = ["1", "2", "4", "4", "6"]
    assert ab["value"] == pytest.approx(cohen_kappa_score(a_labels, b_labels))
    assert table["kappa"][1]["n"] == 4  # c's unparsed answer on d2 is missing
    assert table["alpha"]["distance"] == "nominal" and table["alpha"]["n"] == 5
    units = {d: {a: F([lab]) for dd, a, lab, s in SINGLE if dd == d and s == "ok"}
             for d in ("d0", "d1", "d2", "d3", "d4")}
    assert table["alpha"]["value"] == pytest.approx(krippendorff_alpha(units))
    assert table["all_agree"]["value"] == pytest.approx(2 / 5)
    assert table["alpha_per_label"] == []
    pair = agreement_table(_study(tmp_path / "2", False, SINGLE), ["c", "a"], n_boot=0)
    assert pair["annotators"] == ["c", "a"] and len(pair["kappa"]) == 1
    assert math.isnan(pair["kappa"][0]["ci"][0])


MULTI = [
    ("d0", "a", "1;2", "ok"), ("d0", "b", "1", "ok"),
    ("d1", "a", "3", "ok"), ("d1", "b", "3", "ok"),
    ("d2", "a", "1;3", "ok"), ("d2", "b", "2", "ok"),
    ("d3", "a", "", "ok"), ("d3", "b", "", "ok"),
]


def test_agreement_table_multi_label(tmp_path: Path) -> None:
    table = agreement_table(_study(tmp_path, True, MULTI), n_boot=100)
    units = {d: {a: F(c for c in lab.split(";") if c) for dd, a, lab, _ in MULTI if dd == d}
             for d in ("d0", "d1", "d2", "d3")}
    assert table["alpha"]["distance"] == "masi"
    assert table["alpha"]["value"] == pytest.approx(krippendorff_alpha(units, "masi"))
    per = {row["code"]: row for row in table["alpha_per_label"]}
    assert sorted(per) == ["1", "2", "3"] and per["1"]["proposed"] == 3
    binary = {d: {a: F(["x"]) if "2" in s else F() for a, s in c.items()}
              for d, c in units.items()}
    assert per["2"]["value"] == pytest.approx(krippendorff_alpha(binary))
    assert per["3"]["name"] == "Health"
    assert table["all_agree"]["value"] == pytest.approx(2 / 4)


def test_agreement_errors_name_the_problem(tmp_path: Path) -> None:
    empty = _study(tmp_path / "e", False, [])
    with pytest.raises(ReplicoderError, match="no proposals yet"):
        agreement_table(empty)
    full = _study(tmp_path / "f", False, SINGLE)
    with pytest.raises(ReplicoderError, match="--annotator zz.*a, b, c"):
        agreement_table(full, ["a", "zz"])
    with pytest.raises(ReplicoderError, match="at least two annotators"):
        agreement_table(full, ["a", "a"])


def test_agreement_cli(tmp_path: Path) -> None:
    st = _study(tmp_path, False, SINGLE)
    out = tmp_path / "agreement.json"
    result = CliRunner().invoke(app, ["agreement", "--study", str(st.root), "--n-boot", "50",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Krippendorff's alpha (nominal)" in result.output and "Cohen's kappa" in result.output
    saved = json.loads(out.read_text())
    assert saved["all_agree"]["value"] == pytest.approx(0.4)
    proc = subprocess.run([sys.executable, "-m", "replicoder.cli", "agreement", "--study",
                           str(st.root), "-a", "a"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "at least two annotators" in proc.stderr


label_sets = st.frozensets(st.sampled_from("abcd"), max_size=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(label_sets, label_sets, label_sets), min_size=2, max_size=25))
def test_alpha_and_kappa_properties(rows: list[tuple[frozenset[str], ...]]) -> None:
    units = {str(i): {"x": r[0], "y": r[1], "z": r[2]} for i, r in enumerate(rows)}
    for distance in ("nominal", "masi", "jaccard"):
        alpha = krippendorff_alpha(units, distance)
        # the order of coders and units does not matter
        swapped = {str(len(rows) - i): {"z": c["x"], "x": c["z"], "y": c["y"]}
                   for i, c in enumerate(units.values())}
        other = krippendorff_alpha(swapped, distance)
        assert (math.isnan(alpha) and math.isnan(other)) or alpha == pytest.approx(other)
        assert math.isnan(alpha) or alpha <= 1 + 1e-9
    a, b = [r[0] for r in rows], [r[1] for r in rows]
    k = cohen_kappa(a, b)
    assert (math.isnan(k) and math.isnan(cohen_kappa(b, a))) or k == pytest.approx(
        cohen_kappa(b, a))
    for x, y in zip(a, b, strict=True):
        assert 0 <= masi_distance(x, y) == masi_distance(y, x) <= 1
