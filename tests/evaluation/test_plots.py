import numpy as np
from matplotlib.image import imread

from siamesekit.evaluation import save_verification_plots, verification_metrics


def test_plots_are_written_as_png(tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (4, 6, 6, 1))
    first, second = np.triu_indices(4, k=1)
    labels = [1, 0, 0, 0, 0, 1]
    result = verification_metrics([0.1, 0.9, 0.7, 0.8, 0.3, 0.2], labels, first, second)
    paths = save_verification_plots(result, images, tmp_path / "plots")
    assert [p.rsplit("/", 1)[1] for p in paths] == [
        "roc.png",
        "distances.png",
        "pairs.png",
    ]
    for path in paths:
        pixels = imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.std() > 0
