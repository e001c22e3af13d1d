"""Export the verified set (document id, text, final labels, who decided) to CSV, JSONL or
Parquet, chosen by the output file's extension."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replicoder import atomic
from replicoder.errors import ReplicoderError
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.review.policy import party_adjudicated, party_adjudication
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["FORMATS", "SEP", "ExportResult", "display_name", "export_verified"]

FORMATS = (".csv", ".jsonl", ".parquet")
SEP = ";"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    sha256: str
    run_id: str
    party_adjudicated: int = 0  # documents adjudicated by one of their own coders


def _format(out: Path) -> str:
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ReplicoderError(
            f"--out {out}: unknown extension {suffix or '(none)'!r}; use .csv, .jsonl or .parquet"
        )
    return suffix


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A spreadsheet runs a cell starting with = + - @ as a formula: quote it with '."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _encode(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == ".jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if fmt == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["doc_id", "text", "labels", "label_names",
                                                 "decided_by", "how"])
        writer.writeheader()
        for r in rows:
            cells = {**r, "labels": SEP.join(r["labels"]),
                     "label_names": SEP.join(r["label_names"])}
            writer.writerow({k: _cell(v) for k, v in cells.items()})
        return buf.getvalue().encode("utf-8")
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("doc_id", pa.string()), ("text", pa.string()),
                        ("labels", pa.list_(pa.string())), ("label_names", pa.list_(pa.string())),
                        ("decided_by", pa.string()), ("how", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def display_name(book: Codebook, value: str) -> str:
    """A label's name; in a graded codebook with its intensity: "happiness (high)"."""
    code, level = graded.split(value) if book.graded else (value, None)
    name = book.label(code).name if code in book else code
    return f"{name} ({level})" if level else name


def export_verified(study: Study, out: Path) -> ExportResult:
    """Write every verified document to ``out`` (atomically) and ``out``.manifest.json.

    Rows: doc_id, text, labels (codes, sorted as in the codebook; joined by ';' in CSV),
    label_names, decided_by (coder, 'a+b' when coders agreed, or the adjudicator) and how
    ('single', 'agreed', 'adjudicated').
    """
    fmt = _format(out)
    book = study.codebook
    order = {c: i for i, c in enumerate(book.codes)}
    with study.store() as store:
        verified = store.verified()
        if not verified:
            raise ReplicoderError(
                "no verified documents yet: review some with `replicoder review` first"
            )
        texts = {d.doc_id: d.text for d in store.documents([v.doc_id for v in verified])}
        rows = []
        for v in verified:
            codes = sorted(v.labels, key=lambda c: (order.get(graded.split(c)[0], len(order)), c)
                           if book.graded else (order.get(c, len(order)), c))
            rows.append({"doc_id": v.doc_id, "text": texts[v.doc_id], "labels": codes,
                         "label_names": [display_name(book, c) for c in codes],
                         "decided_by": v.decided_by, "how": v.how})
        data = _encode(rows, fmt)
        atomic.write_bytes(out, data)
        digest = hashlib.sha256(data).hexdigest()
        run = Run.start(study, "export-verified")
        by_party = [d for d in party_adjudicated(store) if d in texts]
        run.write({"output": run.relative(out), "output_sha256": digest, "rows": len(rows),
                   "decisions_logged": store.decision_log_size(),
                   "party_adjudication": {"allowed": party_adjudication(study),
                                          "documents": len(by_party),
                                          "first": by_party[:100]}},
                  copies=[out.with_name(out.name + ".manifest.json")], store=store)
    return ExportResult(out, len(rows), digest, run.run_id, len(by_party))

