"""Import proposals (and the coders' accept/reject decisions) made outside replicoder.

The file is long: one row per document x label, naming the annotator that proposed it, and
optionally the coder who judged it and whether they accepted it. Proposals are stored per
(document, annotator) with provenance ``{"imported_from": path, "sha256": ...}``; decisions
are replayed per (document, coder) as review decisions (kept = accepted, rejected = the
rest of what that coder was shown), so agreement, verification and export treat them as
decisions made in the app. Each row is also kept as a ``Judgement`` so acceptance rates are
counted row for row, as the source counted them. All or nothing; importing the same file
again adds nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from replicoder.errors import ReplicoderError, listed
from replicoder.hashing import input_sha256
from replicoder.io.readers import open_table
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.review.replay_guard import check_no_orphans
from replicoder.review.session import CODER_NAME
from replicoder.run import Run
from replicoder.store import Proposal, Store
from replicoder.store.judgements import Judgement
from replicoder.store.reviews import Decision
from replicoder.study import Study

__all__ = ["ACCEPT", "REJECT", "ReplayResult", "import_proposals"]

ACCEPT = ("y", "yes", "1", "true", "accepted", "kept")
REJECT = ("n", "no", "0", "false", "rejected")


@dataclass
class ReplayResult:
    """What an import of outside proposals did."""

    path: str
    sha256: str
    rows: int = 0
    proposals: int = 0
    decisions_added: int = 0
    decisions_unchanged: int = 0
    judgements_added: int = 0
    unclear: int = 0  # decisions left for adjudication: two intensities of one label kept
    annotators: Counter[str] = field(default_factory=Counter)
    coders: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Row:
    row_no: int
    doc_id: str
    annotator: str
    label: str
    coder: str | None
    accepted: bool | None


def _cell(record: dict[str, object], column: str) -> str:
    value = record.get(column)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def _label(book: Codebook, name: str, level: str | None, where: str) -> str:
    if level is None and book.graded:
        name, level = graded.split(name)
    code = book.lookup(name)
    if code is None:
        raise ReplicoderError(
            f"{where}: label {name!r} is not in codebook {book.name!r} (no code, name or "
            "alias matches, ignoring case and spaces); add it as an alias in codebook.yaml "
            "or fix the row. Nothing was imported."
        )
    return graded.resolve(book, code, level, where)


def _decision(cell: str, accept: Sequence[str], reject: Sequence[str], where: str) -> bool:
    folded = cell.casefold()
    if folded in (a.casefold() for a in accept):
        return True
    if folded in (r.casefold() for r in reject):
        return False
    raise ReplicoderError(
        f"{where}: decision {cell!r} is neither an accept value ({', '.join(accept)}) nor a "
        f"reject value ({', '.join(reject)}); pass --accept-values/--reject-values. "
        "Nothing was imported."
    )


def _read(book: Codebook, path: Path, columns: dict[str, str | None], accept: Sequence[str],
          reject: Sequence[str], encoding: str) -> list[_Row]:
    table = open_table(path, encoding=encoding)
    for flag, column in columns.items():
        if column is not None and column not in table.columns:
            raise ReplicoderError(
                f"{path}: no column {column!r} (asked for by {flag}). Columns in the file: "
                f"{listed([repr(c) for c in table.columns], 50)}"
            )
    rows: list[_Row] = []
    for row_no, record in table.rows:
        where = f"{path}, {table.where} {row_no}"
        values = {flag: _cell(record, col) if col else None for flag, col in columns.items()}
        doc_id, name, annotator = (values["--doc-column"], values["--label-column"],
                                   values["--annotator-column"])
        if not doc_id or not name or not annotator:
            raise ReplicoderError(f"{where}: empty document id, label or annotator")
        label = _label(book, name, values["--intensity-column"], where)
        coder = values["--coder-column"]
        if coder and not CODER_NAME.fullmatch(coder):
            raise ReplicoderError(
                f"{where}: coder name {coder[:80]!r} is not allowed: use 1-64 ASCII letters, "
                "digits, '-' or '_' (the review app takes no other names, so such a coder's "
                "decisions could never be opened or corrected). Rename the coder in the "
                "file. Nothing was imported."
            )
        accepted = None
        if columns["--decision-column"] is not None:
            accepted = _decision(values["--decision-column"] or "", accept, reject, where)
            if not coder:
                raise ReplicoderError(f"{where}: a decision without a coder")
        rows.append(_Row(row_no, doc_id, annotator, label, coder, accepted))
    return rows


def _check_documents(store: Store, rows: list[_Row], path: Path) -> None:
    ids = sorted({r.doc_id for r in rows})
    known = store.existing(ids)
    for row in rows:
        if row.doc_id not in known:
            missing = sum(1 for i in ids if i not in known)
            raise ReplicoderError(
                f"{path}, row {row.row_no}: document {row.doc_id!r} is not in the study "
                f"({missing} unknown ids in all). Import the documents first "
                "(replicoder import FILE --text ... --id ...). Nothing was imported."
            )


def _proposals(rows: list[_Row], provenance: dict[str, str], now: str) -> list[Proposal]:
    items: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        items[(row.doc_id, row.annotator)].append(row.label)
    return [Proposal(doc_id, annotator, frozenset(labels), "ok", json.dumps(labels),
                     dict(provenance), now)
            for (doc_id, annotator), labels in sorted(items.items())]


def _decisions(book: Codebook, rows: list[_Row], now: str) -> list[Decision]:
    """One decision per (document, coder): a label is kept when the coder's last row on it
    accepts it (a later judgement replaces an earlier one, as in the app); a coder who kept
    two intensities of one label leaves the document unclear, for adjudication."""
    shown: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    last: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    for row in rows:
        if row.coder is None or row.accepted is None:
            continue
        key = (row.doc_id, row.coder)
        shown[key][row.label].add(row.annotator)
        last[key][row.label] = row.accepted
    out: list[Decision] = []
    for (doc_id, coder), proposed in sorted(shown.items()):
        kept = frozenset(lab for lab, ok in last[(doc_id, coder)].items() if ok)
        two = book.graded and len(graded.presence(kept)) < len(kept)
        out.append(Decision(doc_id, coder, kept, frozenset(proposed) - kept, frozenset(),
                            two, 0.0, now, {k: sorted(v) for k, v in sorted(proposed.items())}))
    return out


def _same(a: Decision | None, b: Decision) -> bool:
    return a is not None and (a.kept, a.rejected, a.added, a.unclear, a.proposed) == (
        b.kept, b.rejected, b.added, b.unclear, b.proposed)


def import_proposals(
    study: Study,
    path: Path,
    *,
    doc_column: str,
    label_column: str,
    annotator_column: str,
    intensity_column: str | None = None,
    decision_column: str | None = None,
    coder_column: str | None = None,
    accept_values: Sequence[str] = ACCEPT,
    reject_values: Sequence[str] = REJECT,
    encoding: str = "utf-8",
) -> ReplayResult:
    """Import a long file of outside proposals (and decisions) in one transaction."""
    path = Path(path)
    if (decision_column is None) != (coder_column is None):
        raise ReplicoderError("--decision-column and --coder-column go together: a decision "
                              "needs the coder who made it")
    book = study.codebook
    columns = {"--doc-column": doc_column, "--label-column": label_column,
               "--annotator-column": annotator_column, "--intensity-column": intensity_column,
               "--decision-column": decision_column, "--coder-column": coder_column}
    rows = _read(book, path, columns, accept_values, reject_values, encoding)
    sha = input_sha256(path)
    result = ReplayResult(str(path), sha, rows=len(rows))
    run = Run.start(study, "import-proposals")
    provenance = {"imported_from": run.relative(path), "sha256": sha}
    with study.store() as store, store.transaction():
        _check_documents(store, rows, path)
        proposals = _proposals(rows, provenance, run.created_at)
        decisions = _decisions(book, rows, run.created_at)
        check_no_orphans(store, path, proposals, decisions)
        store.add_proposals(proposals)
        result.proposals = len(proposals)
        result.annotators.update(r.annotator for r in rows)
        for decision in decisions:
            result.coders[decision.coder] += 1
            result.unclear += decision.unclear
            if _same(store.decision(decision.doc_id, decision.coder), decision):
                result.decisions_unchanged += 1
                continue
            store.add_decision(decision)
            result.decisions_added += 1
        result.judgements_added = store.add_judgements(
            Judgement(sha, r.row_no, r.doc_id, r.coder, r.annotator, r.label, r.accepted)
            for r in rows if r.coder is not None and r.accepted is not None)
        run.write({"input": {"path": run.relative(path), "sha256": sha},
                   "options": {k.lstrip("-").replace("-", "_"): v for k, v in columns.items()}
                   | {"accept_values": list(accept_values),
                      "reject_values": list(reject_values), "encoding": encoding},
                   "rows": result.rows, "proposals": result.proposals,
                   "decisions_added": result.decisions_added,
                   "judgements_added": result.judgements_added}, store=store)
    return result
