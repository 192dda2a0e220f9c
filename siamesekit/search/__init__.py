"""Search and near-duplicates: a gallery `Index` on FAISS, `find_duplicates`."""

from siamesekit.search.duplicates import (
    DuplicateGroup,
    DuplicateReport,
    find_duplicates,
    group_duplicates,
)
from siamesekit.search.index import AddResult, Index, SearchResult

__all__ = [
    "AddResult",
    "DuplicateGroup",
    "DuplicateReport",
    "Index",
    "SearchResult",
    "find_duplicates",
    "group_duplicates",
]
