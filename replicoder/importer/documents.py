"""Import documents (and optional gold labels) into a study, streaming and idempotent."""

from __future__ import annotations

import ast
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from replicoder.errors import ReplicoderError, clip, listed
from replicoder.hashing import input_sha256, text_sha256
from replicoder.importer.gold_changes import GoldChanges
from replicoder.io.readers import Record, Table, open_table
from replicoder.labels import graded
from replicoder.labels.codebook import Codebook
from replicoder.run import Run
from replicoder.study import Study

__all__ = ["BATCH", "SHOW", "ImportOptions", "ImportResult", "dict_labels", "import_file",
           "split_labels"]

UnknownLabels = Literal["error", "drop", "keep"]
LabelsFormat = Literal["list", "dict"]
EmptyTexts = Literal["error", "skip"]
EmptyLabels = Literal["unlabelled", "none"]
BATCH = 2000
SHOW = 5  # how many offending rows an error message lists


@dataclass
class ImportResult:
    """What an import did. ``added`` counts new documents."""

    path: str
    rows_read: int = 0
    added: int = 0
    already_present: int = 0
    labelled_added: int = 0
    gold_filled: int = 0
    skipped_empty: int = 0
    dropped_unknown: int = 0
    gold_changed: int = 0  # documents already present whose gold labels the file changes
    gold_updated: int = 0  # of those, updated (update_labels)
    empty_label_cells: int = 0  # rows whose label cell was empty
    empty_labels: str = "unlabelled"  # what those rows became: no gold, or gold "no label"
    unknown_labels: Counter[str] = field(default_factory=Counter)


def _cell_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def split_labels(value: Any, sep: str) -> list[str]:
    """A cell's label codes: a list, a number, or a string joined by ``sep``."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [s for s in (_cell_str(v) for v in value) if s]
    text = _cell_str(value)
    if not text:
        return []
    parts = text.split(sep) if sep else [text]
    return [p.strip() for p in parts if p.strip()]


def dict_labels(value: Any, where: str) -> list[str]:
    """A cell holding a Python-dict literal ``{'happiness': 'high', ...}`` as label items
    ``name:intensity``. Read with ``ast.literal_eval`` (literals only, nothing runs)."""
    text = _cell_str(value)
    if not text:
        return []
    try:
        tree = ast.parse(text.strip(), mode="eval")
        _no_repeated_keys(tree.body, where)
        parsed = ast.literal_eval(tree)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ReplicoderError(
            f"{where}: not a dict literal like {{'happiness': 'high'}} ({exc.__class__.__name__}"
            f"): {text[:60]!r}"
        ) from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ReplicoderError(
            f"{where}: expected a dict of label name to intensity, like "
            f"{{'happiness': 'high'}}; got {text[:60]!r}"
        )
    return [graded.join(k.strip(), v.strip()) for k, v in parsed.items()]


def _no_repeated_keys(node: ast.expr, where: str) -> None:
    """A dict literal naming one key twice would keep only the last value: refused, like
    every other way of giving a label two intensities."""
    if not isinstance(node, ast.Dict):
        return
    seen: set[object] = set()
    for key in node.keys:
        if isinstance(key, ast.Constant):
            if key.value in seen:
                raise ReplicoderError(
                    f"{where}: the dict names {clip(str(key.value), 60)!r} twice; a label "
                    "takes one intensity per document. Keep one of them. Nothing was "
                    "imported.")
            seen.add(key.value)


class _Labeler:
    """Maps raw label values to codebook values, counting the unknown ones.

    In a graded codebook each item is ``name:intensity`` (a code, name or alias; the
    intensity matched ignoring case); a missing or unknown intensity, or two intensities of
    one label in a cell, is an error naming the row.
    """

    def __init__(self, book: Codebook, sep: str, mode: UnknownLabels,
                 fmt: LabelsFormat = "list", where: str = "row") -> None:
        self.book = book
        self.sep = sep
        self.mode = mode
        self.fmt = fmt
        self.where = where
        self.unknown: Counter[str] = Counter()
        self.unknown_rows: list[int] = []
        self.unknown_row_count = 0
        self.multi_rows: list[tuple[int, int]] = []

    def items(self, row_no: int, value: Any) -> list[str]:
        if self.fmt == "dict":
            return dict_labels(value, f"{self.where} {row_no}")
        return split_labels(value, self.sep)

    def _value(self, row_no: int, item: str) -> str | None:
        if not self.book.graded:
            return self.book.lookup(item)
        name, level = graded.split(item)
        code = self.book.lookup(name)
        if code is None:
            return None
        return graded.resolve(self.book, code, level, f"{self.where} {row_no}")

    def __call__(self, row_no: int, value: Any) -> tuple[frozenset[str] | None, bool]:
        """Return (labels or None if the cell is empty, whether the row had unknown labels)."""
        raw = self.items(row_no, value)
        if not raw:
            return None, False
        codes: set[str] = set()
        bad = False
        for item in raw:
            code = self._value(row_no, item)
            if code is None:
                self.unknown[graded.split(item)[0] if self.book.graded else item] += 1
                bad = True
            else:
                codes.add(code)
        if self.book.graded:
            graded.check(self.book, codes, f"{self.where} {row_no}")
        self.unknown_row_count += bad
        if bad and len(self.unknown_rows) < SHOW:
            self.unknown_rows.append(row_no)
        if len(codes) > 1 and not self.book.multi_label and len(self.multi_rows) < SHOW:
            self.multi_rows.append((row_no, len(codes)))
        if bad and self.mode == "keep" and not codes:
            return None, True
        return frozenset(codes), bad


def _check_sep(book: Codebook, sep: str) -> None:
    clash = [lab.code for lab in book.labels if sep in lab.code]
    if clash:
        raise ReplicoderError(
            f"codebook code {clash[0]!r} contains the label separator {sep!r}, so it would "
            "be split in two on import; pass another --sep (one no code contains) or "
            "rename the code in codebook.yaml"
        )


def _require_columns(table: Table, wanted: dict[str, str | None]) -> None:
    for flag, column in wanted.items():
        if column is not None and column not in table.columns:
            raise ReplicoderError(
                f"{table.path}: no column {column!r} (asked for by {flag}). "
                f"Columns in the file: {listed([repr(c) for c in table.columns], 50)}"
            )


@dataclass(frozen=True)
class ImportOptions:
    """How one file is read into a study: the settings of ``import_file``, recorded as they
    are in study.db and in the run's manifest."""

    text: str
    id: str | None = None
    labels: str | None = None
    sep: str = ";"
    labels_format: LabelsFormat = "list"
    meta: tuple[str, ...] = ()
    unknown_labels: UnknownLabels = "error"
    empty: EmptyTexts = "error"
    empty_labels: EmptyLabels = "unlabelled"
    encoding: str = "utf-8"
    update_labels: bool = False

    def check(self, table: Table, book: Codebook) -> None:
        """Refuse settings that cannot work on this file and codebook, before any row."""
        _require_columns(table, {"--text": self.text, "--id": self.id, "--labels": self.labels,
                                 **{f"--meta {m}": m for m in self.meta}})
        if self.labels is not None and self.sep and self.labels_format == "list":
            _check_sep(book, self.sep)
        if self.empty_labels == "none" and not book.multi_label:
            raise ReplicoderError(
                "--empty-labels none means 'no label applies', which only a multi-label "
                "codebook allows; this study's codebook is single-label"
            )
        if self.empty_labels == "none" and self.labels is None:
            raise ReplicoderError("--empty-labels none needs --labels (the column with labels)")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "meta": list(self.meta)}


Row = tuple[int, str, str, dict[str, Any], frozenset[str] | None]


def import_file(
    study: Study,
    path: Path,
    *,
    text: str | None = None,
    id: str | None = None,
    labels: str | None = None,
    sep: str = ";",
    labels_format: LabelsFormat = "list",
    meta: Sequence[str] = (),
    unknown_labels: UnknownLabels = "error",
    empty: EmptyTexts = "error",
    empty_labels: EmptyLabels = "unlabelled",
    encoding: str = "utf-8",
    update_labels: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Stream ``path`` into the study in one transaction: all rows or, on any error, none.

    Re-importing the same rows adds nothing. A document id seen before must come with
    the same text; without ``id`` the id is a hash of the text. ``empty_labels``: an empty
    label cell leaves the document "unlabelled" (no gold), or with "none" gives it the
    verified gold "no label applies" (multi-label codebooks only). ``labels_format``
    "list" reads cells of codes or names joined by ``sep`` ("happiness:high;resilience:low"
    in a graded codebook); "dict" reads a Python-dict literal of name to intensity.
    A document already present whose gold labels the file changes stops the import, unless
    ``update_labels`` (then its gold is replaced, and the change counted in the manifest).
    """
    path = Path(path)
    table = open_table(path, encoding=encoding)
    if table.format == "txt-folder":
        text = text or "text"
        id = id or "id"
    if text is None:
        raise ReplicoderError(
            f"{path}: say which column holds the text with --text. "
            f"Columns: {listed([repr(c) for c in table.columns], 50)}"
        )
    options = ImportOptions(text=text, id=id, labels=labels, sep=sep,
                            labels_format=labels_format, meta=tuple(meta),
                            unknown_labels=unknown_labels, empty=empty,
                            empty_labels=empty_labels, encoding=encoding,
                            update_labels=update_labels)
    options.check(table, study.codebook)
    return _import(study, path, table, options, progress)


def _import(study: Study, path: Path, table: Table, options: ImportOptions,
            progress: Callable[[int], None] | None) -> ImportResult:
    """Read every row of ``table`` into study.db in one transaction, and record the run."""
    result = ImportResult(path=str(path), empty_labels=options.empty_labels)
    labeler = _Labeler(study.codebook, options.sep, options.unknown_labels,
                       options.labels_format, f"{path}, {table.where}")
    empty_rows: list[int] = []
    conflicts: list[str] = []
    changes = GoldChanges(options.update_labels)
    run = Run.start(study, "import")
    now = run.created_at
    store = study.store()
    try:
        with store.transaction():
            sha = input_sha256(path)
            import_id = store.start_import(str(path), sha, options.to_dict(), now)
            batch: list[Row] = []
            for row in _rows(table, options, labeler, result, empty_rows):
                batch.append(row)
                if len(batch) >= BATCH:
                    _flush(store, batch, result, conflicts, table, changes)
                    batch.clear()
                    if progress is not None:
                        progress(result.rows_read)
            _flush(store, batch, result, conflicts, table, changes)
            if progress is not None:
                progress(result.rows_read)
            _check(result, labeler, empty_rows, conflicts, options.empty, table)
            changes.check(table)
            result.gold_changed, result.gold_updated = changes.count, changes.updated
            store.finish_import(import_id, result.rows_read, result.added, now)
            run.write({"input": {"path": run.relative(path), "sha256": sha},
                       "options": options.to_dict(), "rows_read": result.rows_read,
                       "added": result.added, "already_present": result.already_present,
                       "skipped_empty": result.skipped_empty,
                       "dropped_unknown": result.dropped_unknown,
                       "gold_updated": changes.record()}, store=store)
    finally:
        store.close()
    result.unknown_labels = labeler.unknown
    return result


def _rows(table: Table, options: ImportOptions, labeler: _Labeler, result: ImportResult,
          empty_rows: list[int]) -> Iterator[Row]:
    """The documents of ``table`` as (row, id, text, metadata, gold) tuples; counts what is
    skipped in ``result`` (empty texts, rows dropped for unknown labels)."""
    text, id, labels = options.text, options.id, options.labels
    for row_no, record in table.rows:
        result.rows_read += 1
        body = _cell_str(_scalar(_get(record, text, table, row_no), text, table,
                                 row_no, text_only=True))
        if not body:
            result.skipped_empty += 1
            if len(empty_rows) < SHOW:
                empty_rows.append(row_no)
            continue
        gold: frozenset[str] | None = None
        if labels is not None:
            cell = _get(record, labels, table, row_no)
            gold, bad = labeler(row_no, cell)
            if bad and options.unknown_labels == "drop":
                result.dropped_unknown += 1
                continue
            if not labeler.items(row_no, cell):
                result.empty_label_cells += 1
                if options.empty_labels == "none":
                    gold = frozenset()
        if id:
            doc_id = _cell_str(_scalar(_get(record, id, table, row_no), id, table,
                                       row_no, text_only=False))
        else:
            doc_id = text_sha256(body)[:16]
        if not doc_id:
            raise ReplicoderError(
                f"{table.path}, {table.where} {row_no}: the id column {id!r} is empty; "
                "every document needs an id (or leave out --id to hash the text)"
            )
        yield row_no, doc_id, body, {m: record.get(m) for m in options.meta}, gold


def _get(record: Record, column: str | None, table: Table, row_no: int) -> Any:
    if column is None:
        return None
    if column not in record:
        raise ReplicoderError(
            f"{table.path}, {table.where} {row_no}: the record has no field {column!r}"
        )
    return record[column]


def _scalar(value: Any, column: str, table: Table, row_no: int, *, text_only: bool) -> Any:
    """Texts must be strings and ids strings or whole numbers, never a list's repr."""
    if value is None or isinstance(value, str):
        return value
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if text_only or isinstance(value, bool) or not whole:
        kind = type(value).__name__
        want = "a string" if text_only else "a string or a whole number"
        raise ReplicoderError(
            f"{table.path}, {table.where} {row_no}: column {column!r} holds a {kind} "
            f"({str(value)[:60]!r}), not {want}. Convert that column to text before "
            "importing. Nothing was imported."
        )
    return value


def _flush(
    store: Any,
    batch: list[Row],
    result: ImportResult,
    conflicts: list[str],
    table: Table,
    changes: GoldChanges,
) -> None:
    if not batch:
        return
    known = store.existing([doc_id for _, doc_id, *_ in batch])
    fresh: dict[str, tuple[int, str, str, dict[str, Any], frozenset[str] | None]] = {}
    fill: dict[str, frozenset[str]] = {}
    relabel: dict[str, tuple[int, frozenset[str]]] = {}
    for row_no, doc_id, body, meta, gold in batch:
        sha = text_sha256(body)
        prior = known.get(doc_id)
        seen = fresh.get(doc_id)
        if prior is None and seen is None:
            fresh[doc_id] = (row_no, body, sha, meta, gold)
            continue
        prior_sha = prior.text_sha256 if prior is not None else seen[2]  # type: ignore[index]
        if prior_sha != sha:
            if len(conflicts) < SHOW:
                conflicts.append(f"{table.where} {row_no}: id {doc_id!r}")
            result.already_present += 1
            continue
        result.already_present += 1
        if gold is not None and prior is not None and not prior.has_gold:
            fill[doc_id] = gold
        elif gold is not None and prior is not None:
            relabel[doc_id] = (row_no, gold)
    rows = [(d, body, sha, meta, gold) for d, (_, body, sha, meta, gold) in fresh.items()]
    result.added += store.add_documents(rows)
    result.labelled_added += sum(1 for *_, gold in rows if gold is not None)
    if fill:
        store.set_gold(fill)
        result.gold_filled += len(fill)
    if relabel:
        changes.compare(store, relabel, table)


def _check(
    result: ImportResult,
    labeler: _Labeler,
    empty_rows: list[int],
    conflicts: list[str],
    empty: EmptyTexts,
    table: Table,
) -> None:
    where = table.where
    if conflicts:
        raise ReplicoderError(
            f"{table.path}: the same id comes with a different text ({len(conflicts)}"
            f"{'+' if len(conflicts) >= SHOW else ''} cases; first: {'; '.join(conflicts)}). "
            "Ids must name one text each: fix the id column, or import without --id "
            "so that ids are hashes of the text. Nothing was imported."
        )
    if labeler.multi_rows:
        first = ", ".join(f"{where} {r} ({n} labels)" for r, n in labeler.multi_rows)
        raise ReplicoderError(
            f"{table.path}: the codebook is single-label but some rows carry several labels "
            f"(first: {first}). Make the codebook multi-label (multi_label: true in "
            "codebook.yaml) or fix the rows. Nothing was imported."
        )
    if labeler.unknown and labeler.mode == "error":
        listing = listed([f"{clip(code, 60)!r} ({n} rows)"
                          for code, n in labeler.unknown.most_common()])
        rows = ", ".join(str(r) for r in labeler.unknown_rows)
        total = labeler.unknown_row_count
        raise ReplicoderError(
            f"{table.path}: {total} rows carry labels that are not in the codebook: {listing} "
            f"(first at {where}s {rows}). Nothing was imported. Choose one: "
            "--unknown-labels drop (leave those rows out), "
            "--unknown-labels keep (import those documents with only their known labels; "
            "documents left with none come in unlabelled), "
            "or add the codes to codebook.yaml."
        )
    if result.skipped_empty and empty == "error":
        rows = ", ".join(str(r) for r in empty_rows)
        raise ReplicoderError(
            f"{table.path}: {result.skipped_empty} rows have an empty text (first at {where}s "
            f"{rows}). Nothing was imported. Pass --empty skip to leave them out, "
            "or fill in the texts."
        )
