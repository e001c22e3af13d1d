"""Tables shown by several commands."""

from __future__ import annotations

from rich.table import Table

from replicoder.study import Study


def label_table(st: Study) -> Table:
    with st.store() as store:
        counts = store.gold_counts()
        total = store.count_documents()
        labelled = store.count_documents(labelled=True)
    table = Table(title=f"{st.codebook.name}: {total:,} documents, {labelled:,} labelled")
    table.add_column("code", justify="right")
    table.add_column("label")
    table.add_column("documents", justify="right")
    table.add_column("share", justify="right")
    for lab in st.codebook.labels:
        n = counts.get(lab.code, 0)
        table.add_row(lab.code, lab.name, f"{n:,}", f"{n / labelled:.1%}" if labelled else "-")
    return table
