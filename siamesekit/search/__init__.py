"""Search and near-duplicates: a gallery `Index` on FAISS, `find_duplicates`."""

from siamesekit.search.duplicates import (
    DuplicateGroup,
    DuplicateReport,
    find_duplicates,
    group_duplicates,
)
from siamesekit.search.geometric_check import (
    GeometricCheck,
    GeometricMatch,
    ImageFeatures,
)
from siamesekit.search.index import AddResult, Index, SearchResult

__all__ = [
    "AddResult",
    "DuplicateGroup",
    "DuplicateReport",
    "GeometricCheck",
    "GeometricMatch",
    "ImageFeatures",
    "Index",
    "SearchResult",
    "find_duplicates",
    "group_duplicates",
]
