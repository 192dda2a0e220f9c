"""The choices and defaults of the commands, without importing the library.

`siamesekit compare --help` lists them before Keras loads; a test checks
that they match `siamesekit.comparator.heatmaps.METHODS`,
`siamesekit.comparator.precision.PRECISIONS`, `siamesekit.search.index.KINDS`
and `siamesekit.search.duplicates.DEFAULT_MIN_SIMILARITY`.
"""

METHODS = ("features", "lpips", "attribution", "pixels")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
INDEX_KINDS = ("flat", "ivf", "hnsw")
DEFAULT_MIN_SIMILARITY = 0.9
