import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

import siamesekit
from siamesekit.errors import InvalidArgumentError, SearchSpaceError
from siamesekit.tuning import DEFAULT_SEARCH_SPACE, SiameseHyperModel, objective

IMAGE_SHAPE = (32, 32, 1)
# Small enough that one trial of one epoch takes about a second.
TINY_SPACE = {"embedding_dim": [4, 8], "dense_units": 8}


def tiny_hypermodel(**options):
    options.setdefault("search_space", TINY_SPACE)
    return SiameseHyperModel(IMAGE_SHAPE, backbone="small_cnn", weights=None, **options)


def identity_images(rng, identities=4, per_identity=6):
    """Grey 32x32 images: a random pattern per identity plus noise."""
    patterns = rng.uniform(0, 255, (identities,) + IMAGE_SHAPE)
    labels = np.repeat(np.arange(identities), per_identity)
    noise = rng.normal(0, 20, (len(labels),) + IMAGE_SHAPE)
    images = np.clip(patterns[labels] + noise, 0, 255).astype("float32")
    return images, labels


def balanced_pairs(rng, images, labels, count):
    """`count` pairs, alternately of one identity (label 1) and of two (label 0)."""
    first, second, targets = [], [], []
    for index in range(count):
        same = index % 2 == 0
        anchor = rng.integers(len(labels))
        candidates = np.flatnonzero((labels == labels[anchor]) == same)
        candidates = candidates[candidates != anchor]
        first.append(anchor)
        second.append(rng.choice(candidates))
        targets.append(float(same))
    return (images[first], images[second]), np.asarray(targets, "float32")


@pytest.fixture
def pair_data(rng):
    images, labels = identity_images(rng)
    train_x, train_y = balanced_pairs(rng, images, labels, 32)
    val_x, val_y = balanced_pairs(rng, images, labels, 16)
    return train_x, train_y, (val_x, val_y)


class StepCounter(keras.callbacks.Callback):
    """Records the number of training batches of each epoch."""

    def __init__(self):
        super().__init__()
        self.batches_per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.batches_per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.batches_per_epoch[-1] += 1


def declared(hypermodel, **values):
    hp = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hp.values.update(values)
    return hp


# The search space and build.


def test_default_space_declares_the_documented_names():
    hp = keras_tuner.HyperParameters()
    SiameseHyperModel(IMAGE_SHAPE, backbone="small_cnn", weights=None).build(hp)
    assert [parameter.name for parameter in hp.space] == list(DEFAULT_SEARCH_SPACE)
    assert hp.values == {
        "embedding_dim": 128,
        "dense_units": 128,
        "margin": 1.0,
        "learning_rate": 1e-3,
        "normalize": True,
    }


def test_pretrained_weights_add_trainable_backbone_layers():
    # Declaring the space builds nothing, so no weights are downloaded.
    hypermodel = SiameseHyperModel((32, 32, 3), backbone="vgg16", weights="imagenet")
    names = [parameter.name for parameter in declared(hypermodel).space]
    assert names == list(DEFAULT_SEARCH_SPACE) + ["trainable_backbone_layers"]


def test_build_makes_a_compiled_siamese_model_from_the_trial_values():
    hypermodel = tiny_hypermodel()
    hp = declared(
        hypermodel, embedding_dim=8, margin=1.5, learning_rate=0.002, normalize=True
    )
    model = hypermodel.build(hp)

    assert isinstance(model, siamesekit.SiameseModel)
    assert model.tower.embedding_dim == 8
    assert model.tower.dense_units == 8
    assert model.tower.normalize is True
    assert model.loss.margin == 1.5
    assert model.threshold == pytest.approx(0.75)  # half the margin
    assert float(model.optimizer.learning_rate) == pytest.approx(0.002)
    images = np.zeros((3,) + IMAGE_SHAPE, "float32")
    assert tuple(model((images, images)).shape) == (3,)


def test_search_space_fn_adds_and_replaces_hyperparameters():
    def space(hp):
        return {
            "dropout": hp.Float("dropout", 0.0, 0.5, step=0.25),
            "normalize": hp.Choice("normalize", [True, False]),
        }

    hypermodel = tiny_hypermodel(search_space_fn=space)
    hp = declared(hypermodel, dropout=0.25)
    model = hypermodel.build(hp)
    assert model.tower.dropout == 0.25
    # keras-tuner's Choice turns booleans into 1/0; the tower still gets a bool.
    assert model.tower.normalize is True
    assert "dropout" in [parameter.name for parameter in hp.space]


def test_fixed_and_removed_overrides():
    hypermodel = tiny_hypermodel(
        search_space={**TINY_SPACE, "margin": 2.0, "normalize": None}
    )
    hp = declared(hypermodel)
    assert "normalize" not in hp.values
    assert isinstance(hp.space[2], keras_tuner.engine.hyperparameters.Fixed)
    model = hypermodel.build(hp)
    assert model.loss.margin == 2.0
    assert model.tower.normalize is True  # the tower's own default


# Bad search spaces.


@pytest.mark.parametrize(
    "search_space, message",
    [
        ({"embeding_dim": [4, 8]}, "Unknown hyperparameter 'embeding_dim'"),
        ({"embedding_dim": [0, 8]}, "'embedding_dim' must be a positive integer"),
        ({"embedding_dim": [4.5]}, "'embedding_dim' must be a positive integer"),
        ({"margin": -1.0}, "'margin' must be a positive number"),
        ({"margin": []}, "must not be empty"),
        ({"margin": {"min_value": 2.0, "max_value": 1.0}}, "must not exceed"),
        (
            {"margin": {"min_value": 0.5, "max_value": 1.0, "default": 3.0}},
            "'default' must lie between",
        ),
        (
            {"learning_rate": {"min_value": 0.0, "max_value": 0.1, "sampling": "log"}},
            "'learning_rate' must be a positive number",
        ),
        ({"dropout": {"min_value": 0.0, "max_value": 0.5, "step": 0}}, "'step'"),
        ({"normalize": {"min_value": 0, "max_value": 1}}, "takes a value"),
        ({"pooling": "mean"}, "'flatten', 'avg' or 'max'"),
        ({"batch_size": [16, 0]}, "'batch_size' must be a positive integer"),
    ],
)
def test_bad_search_space_raises_a_clear_error(search_space, message):
    with pytest.raises(SearchSpaceError, match=message):
        tiny_hypermodel(search_space=search_space)


def test_bad_search_space_fn_raises_at_construction():
    with pytest.raises(SearchSpaceError, match="Unknown hyperparameter 'units'"):
        tiny_hypermodel(search_space_fn=lambda hp: {"units": hp.Int("units", 1, 4)})
    with pytest.raises(SearchSpaceError, match="must return a dict"):
        tiny_hypermodel(search_space_fn=lambda hp: [4])
    with pytest.raises(SearchSpaceError, match="'embedding_dim' must be a positive"):
        tiny_hypermodel(search_space_fn=lambda hp: {"embedding_dim": hp.Int("e", 0, 4)})


def test_bad_trial_value_stops_the_search_instead_of_skipping_the_trial():
    hp = declared(tiny_hypermodel(), margin=-1.0)
    with pytest.raises(SearchSpaceError, match="Received: margin=-1.0") as info:
        tiny_hypermodel().build(hp)
    # keras-tuner re-raises fatal errors; any other error only marks the
    # trial invalid and the search goes on.
    assert isinstance(info.value, keras_tuner.errors.FatalError)
    assert isinstance(info.value, InvalidArgumentError)


def test_unknown_backbone_fails_at_construction():
    with pytest.raises(InvalidArgumentError, match="Unknown backbone"):
        SiameseHyperModel(IMAGE_SHAPE, backbone="vgg17", weights=None)


# Objectives.


@pytest.mark.parametrize(
    "name, direction",
    [
        ("val_loss", "min"),
        ("val_auc", "max"),
        ("val_pair_accuracy", "max"),
        ("val_positive_distance", "min"),
        ("val_negative_distance", "max"),
        ("pair_accuracy", "max"),
    ],
)
def test_objective_direction(name, direction):
    assert objective(name) == keras_tuner.Objective(name, direction)


def test_objective_rejects_unknown_metric():
    with pytest.raises(InvalidArgumentError, match="val_accuracy"):
        objective("val_accuracy")


# keras-tuner's own inference of objectives: runs once, under TensorFlow.
@pytest.mark.backend_neutral
def test_keras_tuner_infers_loss_and_auc_but_not_pair_accuracy(tmp_path):
    # What the README says: plain strings work for val_loss and val_auc only.
    for name, direction in (("val_loss", "min"), ("val_auc", "max")):
        tuner = keras_tuner.RandomSearch(
            tiny_hypermodel(), objective=name, max_trials=1, directory=tmp_path
        )
        assert tuner.oracle.objective.direction == direction
    with pytest.raises(ValueError, match="Could not infer optimization direction"):
        keras_tuner.RandomSearch(
            tiny_hypermodel(),
            objective="val_pair_accuracy",
            max_trials=1,
            directory=tmp_path,
        )


# Searches.


@pytest.mark.slow
def test_random_search_end_to_end(pair_data, tmp_path):
    train_x, train_y, validation_data = pair_data
    tuner = keras_tuner.RandomSearch(
        tiny_hypermodel(),
        objective=objective("val_auc"),
        max_trials=2,
        seed=1,
        directory=tmp_path,
        project_name="random",
    )
    tuner.search(train_x, train_y, validation_data=validation_data, epochs=1, verbose=0)

    trials = tuner.oracle.get_best_trials(num_trials=2)
    assert [trial.status for trial in trials] == ["COMPLETED", "COMPLETED"]
    # Each score is the val_auc its trial logged; the best is the largest.
    for trial in trials:
        assert trial.score == trial.metrics.get_last_value("val_auc")
    assert trials[0].score >= trials[1].score

    best_model = tuner.get_best_models(num_models=1)[0]
    assert isinstance(best_model, siamesekit.SiameseModel)
    best_values = tuner.get_best_hyperparameters()[0].values
    assert best_model.tower.embedding_dim == best_values["embedding_dim"]
    # The reloaded best model measures the same AUC the tuner recorded.
    evaluated = best_model.evaluate(
        *validation_data, batch_size=16, verbose=0, return_dict=True
    )
    assert evaluated["auc"] == pytest.approx(trials[0].score, abs=1e-6)

    path = tmp_path / "best.keras"
    best_model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(reloaded, siamesekit.SiameseModel)
    np.testing.assert_allclose(
        reloaded.predict(validation_data[0], verbose=0),
        best_model.predict(validation_data[0], verbose=0),
        rtol=1e-5,
        atol=1e-6,
    )


# The oracles are keras-tuner's own; the hypermodel's path through each
# backend is `test_random_search_end_to_end`.
@pytest.mark.backend_neutral
@pytest.mark.slow
def test_bayesian_optimization_minimizes_val_loss(pair_data, tmp_path):
    train_x, train_y, validation_data = pair_data
    tuner = keras_tuner.BayesianOptimization(
        tiny_hypermodel(),
        objective="val_loss",
        max_trials=2,
        seed=1,
        directory=tmp_path,
    )
    tuner.search(train_x, train_y, validation_data=validation_data, epochs=1, verbose=0)
    scores = [trial.score for trial in tuner.oracle.trials.values()]
    assert len(scores) == 2
    assert tuner.oracle.get_best_trials()[0].score == min(scores)


@pytest.mark.backend_neutral
@pytest.mark.slow
def test_hyperband_runs_with_pair_accuracy_objective(pair_data, tmp_path):
    train_x, train_y, validation_data = pair_data
    tuner = keras_tuner.Hyperband(
        tiny_hypermodel(),
        objective=objective("val_pair_accuracy"),
        max_epochs=2,
        factor=2,
        hyperband_iterations=1,
        seed=1,
        directory=tmp_path,
    )
    tuner.search(train_x, train_y, validation_data=validation_data, verbose=0)
    trials = tuner.oracle.trials.values()
    assert trials and all(trial.status == "COMPLETED" for trial in trials)
    best = tuner.oracle.get_best_trials()[0]
    assert best.score == max(trial.score for trial in trials)
    assert isinstance(tuner.get_best_models()[0], siamesekit.SiameseModel)


# Tuning batch size and pairs per epoch in fit: keras-tuner's and the
# hypermodel's Python, run once, under TensorFlow.


@pytest.mark.backend_neutral
def test_fit_uses_tuned_batch_size_and_forwards_callbacks(pair_data):
    train_x, train_y, _ = pair_data  # 32 pairs
    hypermodel = tiny_hypermodel(search_space={**TINY_SPACE, "batch_size": [8, 16]})
    hp = declared(hypermodel)
    counter = StepCounter()
    hypermodel.fit(
        hp, hypermodel.build(hp), train_x, train_y, epochs=1, callbacks=[counter]
    )
    assert hp.values["batch_size"] == 8
    assert counter.batches_per_epoch == [32 // 8]


@pytest.mark.backend_neutral
def test_fit_runs_pairs_per_epoch_over_repeated_pairs(rng):
    images, labels = identity_images(rng)
    train_x, train_y = balanced_pairs(rng, images, labels, 12)
    hypermodel = tiny_hypermodel(
        search_space={**TINY_SPACE, "batch_size": 8, "pairs_per_epoch": 20}
    )
    hp = declared(hypermodel)
    counter = StepCounter()
    # 2 epochs x 3 batches x 8 pairs = 48 pairs drawn from 12: they repeat.
    hypermodel.fit(
        hp, hypermodel.build(hp), train_x, train_y, epochs=2, callbacks=[counter]
    )
    assert counter.batches_per_epoch == [3, 3]  # ceil(20 / 8)


@pytest.mark.backend_neutral
def test_fit_calls_a_data_function_with_the_tuned_batch_size(pair_data):
    train_x, train_y, _ = pair_data
    requested = []

    def make_dataset(batch_size):
        requested.append(batch_size)
        return tf.data.Dataset.from_tensor_slices((train_x, train_y)).batch(batch_size)

    hypermodel = tiny_hypermodel(
        search_space={**TINY_SPACE, "batch_size": 4, "pairs_per_epoch": 48}
    )
    hp = declared(hypermodel)
    counter = StepCounter()
    hypermodel.fit(hp, hypermodel.build(hp), make_dataset, callbacks=[counter])
    assert requested == [4]
    # 12 steps of 4 pairs from a finite dataset of 8 batches: it is repeated.
    assert counter.batches_per_epoch == [12]


@pytest.mark.backend_neutral
def test_fit_refuses_to_tune_batch_size_of_a_ready_made_dataset(pair_data):
    train_x, train_y, _ = pair_data
    dataset = tf.data.Dataset.from_tensor_slices((train_x, train_y)).batch(8)
    hypermodel = tiny_hypermodel(search_space={**TINY_SPACE, "batch_size": [8]})
    hp = declared(hypermodel)
    model = hypermodel.build(hp)
    with pytest.raises(SearchSpaceError, match="ready-made dataset"):
        hypermodel.fit(hp, model, dataset)
    with pytest.raises(SearchSpaceError, match="cannot also be passed"):
        hypermodel.fit(hp, model, train_x, train_y, batch_size=16)
