"""Tabular input and output: streaming readers, writers by extension, whole-table reads.

- readers: CSV/TSV, JSONL, Parquet and folders of .txt files, one row at a time;
- writers: classified output as .parquet, .csv, .jsonl or Stata .dta, written atomically;
- tables: whole-table reads of classified outputs (id, labels, score columns).
"""

from replicoder.io.readers import Table, detect_format, documents, open_table
from replicoder.io.tables import read_table
from replicoder.io.writers import assemble, check_output, write_part

__all__ = ["Table", "assemble", "check_output", "detect_format", "documents", "open_table",
           "read_table", "write_part"]
