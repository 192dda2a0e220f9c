"""The choices of `siamesekit compare`, without importing the comparator.

`siamesekit compare --help` lists them before Keras loads; a test checks
that they match `siamesekit.comparator.heatmaps.METHODS` and
`siamesekit.comparator.precision.PRECISIONS`.
"""

METHODS = ("features", "lpips", "attribution", "pixels")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
