"""Import: documents and their gold labels into a study, streaming, in one transaction.

- documents: read a CSV/TSV, JSONL, Parquet file or a folder of .txt files into study.db
  (``import_file``); re-importing the same rows adds nothing;
- gold_changes: a re-import that changes gold labels is refused, or applied when asked.
"""

from replicoder.importer.documents import (
    EmptyLabels,
    EmptyTexts,
    ImportOptions,
    ImportResult,
    LabelsFormat,
    UnknownLabels,
    import_file,
)

__all__ = ["EmptyLabels", "EmptyTexts", "ImportOptions", "ImportResult", "LabelsFormat",
           "UnknownLabels", "import_file"]
