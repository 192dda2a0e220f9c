from siamesekit.metrics.pair_accuracy import PairAccuracy, pair_accuracy

__all__ = ["PairAccuracy", "pair_accuracy"]
