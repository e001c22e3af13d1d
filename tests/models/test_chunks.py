"""Windows, head-tail and the auto length rule: pure functions, no model."""

from __future__ import annotations

import pytest

from replicoder.errors import ReplicoderError
from replicoder.models.chunks import head_tail, split, windows
from replicoder.models.length import LengthReport, choose_length, parse_max_length


def test_windows_cover_the_document_overlapping_and_end_at_its_end() -> None:
    body = list(range(100))
    wins = windows(body, 16)
    assert all(len(w) == 16 for w in wins)
    assert wins[0][0] == 0 and wins[-1][-1] == 99
    assert set().union(*map(set, wins)) == set(body)
    assert wins[1][0] == 12  # a quarter of each window overlaps the next
    assert windows(body[:10], 16) == [body[:10]]


def test_head_tail_keeps_the_first_quarter_and_the_end() -> None:
    body = list(range(100))
    kept = head_tail(body, 20)
    assert kept == list(range(5)) + list(range(85, 100))
    assert head_tail(body[:20], 20) == body[:20]


def test_split_marks_cut_documents_and_keeps_the_cue() -> None:
    bodies = [list(range(50)), [7, 8]]
    cut = split(bodies, [1], [99], 12, "truncate")
    assert cut.windows == [[1, *range(10), 99], [1, 7, 8, 99]] and cut.cut == [True, False]
    whole = split(bodies, [1], [99], 12, "chunk")
    assert whole.cut == [False, False] and whole.owner.count(0) > 1
    assert all(len(w) <= 12 and w[0] == 1 and w[-1] == 99 for w in whole.windows)
    assert whole.lengths()[1] == 4 and whole.of()[1] == [len(whole.windows) - 1]
    assert split(bodies, [], [], 12, "head-tail").windows[0] == [0, 1, 2, *range(41, 50)]


def test_auto_length_follows_the_documents_within_floor_cap_and_context() -> None:
    assert choose_length([12] * 100, 8192) == 64  # titles: as the old fixed default
    assert choose_length([], 8192) == 64
    long = list(range(1, 1001))  # 95th percentile 950.05
    assert choose_length(long, 8192, cap=2000) == 952
    assert choose_length(long, 8192) == 512  # the default cost cap
    assert choose_length(long, 300, cap=2000) == 300  # the model's context
    report = LengthReport.of(long, 512, True, 512, 8192, "truncate")
    assert report.longer == 488 and report.p95 == 950 and report.longest == 1000
    assert "488 (48.8%) are longer and are cut" in report.line()


def test_max_length_option_parses_auto_or_a_number() -> None:
    assert parse_max_length("auto") is None and parse_max_length("128") == 128
    for bad in ("0", "long", "-3"):
        with pytest.raises(ReplicoderError, match="give 'auto' or a number of tokens"):
            parse_max_length(bad)
