"""Property-based hostile inputs (issue 12): the CSV/JSONL readers and the answer parser
either return well-formed results or raise ReplicoderError, never anything else."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replicoder.errors import ReplicoderError
from replicoder.io.readers import open_table
from replicoder.labels.codebook import load
from replicoder.labels.parse import parse_answer

CAP = load("cap")
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


def _read(name: str, data: bytes) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return [rec for _, rec in open_table(path).rows]


@FAST
@given(st.lists(st.tuples(cells, cells), min_size=1, max_size=15))
def test_well_quoted_csv_round_trips(rows: list[tuple[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    got = _read("x.csv", buf.getvalue().encode("utf-8"))
    assert got == [{"id": a, "text": b} for a, b in rows]


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_csv_fail_cleanly(data: bytes) -> None:
    try:
        rows = _read("x.csv", b"id,text\n" + data)
    except ReplicoderError:
        return
    assert all(set(r) == {"id", "text"} for r in rows)


@FAST
@given(st.lists(cells, min_size=1, max_size=20), st.integers(0, 19))
def test_a_stray_quote_never_swallows_rows_silently(texts: list[str], where: int) -> None:
    lines = [f"{i},{json.dumps(t)}" for i, t in enumerate(texts)]
    where %= len(lines)
    lines[where] = f'{where},"stray {texts[where]!r}'  # opens a quote that never closes
    data = ("id,text\n" + "\n".join(lines) + "\n").encode("utf-8")
    try:
        rows = _read("x.csv", data)
    except ReplicoderError as exc:
        assert "row" in str(exc)
        return
    assert len(rows) == len(lines)  # only a reading that kept every row may succeed


@FAST
@given(st.lists(st.one_of(st.binary(max_size=40),
                          st.dictionaries(cells, st.one_of(cells, st.integers(), st.none()),
                                          max_size=3).map(lambda d: json.dumps(d).encode())),
                min_size=1, max_size=10))
def test_hostile_jsonl_fails_cleanly(lines: list[bytes]) -> None:
    try:
        rows = _read("x.jsonl", b"\n".join(lines) + b"\n")
    except ReplicoderError:
        return
    assert all(isinstance(r, dict) for r in rows)


@FAST
@given(st.text(max_size=200))
def test_parser_never_crashes_and_only_returns_codebook_codes(answer: str) -> None:
    parsed = parse_answer(answer, CAP)
    assert parsed.labels <= set(CAP.codes)
    assert parsed.ok or parsed.reason


@FAST
@given(st.lists(st.sampled_from(CAP.codes), min_size=1, max_size=1), st.text(max_size=30))
def test_parser_reads_json_answers_with_noise_around(codes: list[str], noise: str) -> None:
    answer = noise.replace("{", "").replace("}", "") + "\n" + json.dumps({"labels": codes})
    parsed = parse_answer(answer, CAP)
    assert parsed.labels == frozenset(codes), (answer, parsed)
