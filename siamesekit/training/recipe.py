"""One tested recipe for training a verification model on labelled images."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import keras
import numpy as np

from siamesekit.arguments import check_integer
from siamesekit.data.augmentation import Augmentation
from siamesekit.data.copy_augmentation import CopyAugmentation
from siamesekit.data.identities import check_images, group_identities
from siamesekit.data.identity_batches import identity_batch_dataset
from siamesekit.errors import DatasetError, InvalidArgumentError
from siamesekit.layers.embedding_tower import EmbeddingTower
from siamesekit.losses.batch_hard_triplet import BatchHardTripletLoss
from siamesekit.losses.in_batch_contrastive import InBatchContrastiveLoss
from siamesekit.losses.nt_xent import NTXentLoss
from siamesekit.models.siamese_model import SiameseModel
from siamesekit.training import distribution as _distribution
from siamesekit.training.callbacks import (
    StopOnNaN,
    TrainingBackup,
    check_backup_dir,
    remove_backup,
)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Settings of `train_verification_model`; the defaults are the tuned ones.

    Attributes:
        epochs: passes over the training images. Defaults to `90`.
        identities_per_batch: P identities per batch (fewer if the data has
            fewer). Defaults to `16`.
        images_per_identity: K images of each. Defaults to `4`.
        batches_per_epoch: batches in an epoch. Defaults to `None`: about
            one pass over the images (`ceil(num_images / (P * K))`).
        learning_rate: peak Adam learning rate, decayed to 0 on a cosine.
            Defaults to `2e-3`.
        loss: `"triplet"` (`BatchHardTripletLoss`), `"contrastive"`
            (`InBatchContrastiveLoss`, all pairs of the batch) or
            `"nt_xent"` (`NTXentLoss`, a softmax over the batch). Defaults
            to `"triplet"`.
        margin: loss margin on unit-length embeddings. Defaults to `None`:
            `0.3` for the triplet loss, `0.8` for the contrastive loss.
        temperature: temperature of the `"nt_xent"` loss. Defaults to
            `None`: `0.1`.
        backbone: tower backbone. Defaults to `"small_cnn"`.
        weights: backbone weights. Defaults to `None`.
        pooling: tower pooling. Defaults to `"flatten"`.
        dense_units: tower hidden width. Defaults to `256`.
        embedding_dim: embedding size. Defaults to `128`.
        dropout: tower dropout before the embedding layer. Defaults to
            `0.0`: with the batch-hard triplet loss, dropout makes all
            embeddings collapse into a narrow cone (on ORL faces, cosine
            similarity about 0.999 for every pair and a decision threshold
            near 0.01): the ranking survives but the scores mean little.
        weight_decay: decoupled weight decay (AdamW) when positive.
            Defaults to `0.0` (Adam).
        standardize: standardize the embedding before its L2 normalization
            (see `EmbeddingTower`): keeps the embeddings centred, so that
            stronger augmentation does not collapse them into a cone.
            Defaults to `True`.
        test_time_zooms: zoom factors whose views the trained tower averages
            at inference (see `EmbeddingTower`), mirrored too when `augment`
            flips; `None` for one view. Defaults to `(0.9, 1.0, 1.1)`, inside
            the zoom range of the default augmentation.
        whitening: regularization of the `EmbeddingWhitening` fitted, after
            training, to the embeddings of the training images and their
            test-time views; `None` for no whitening. Defaults to `0.01`:
            on two validation splits of ORL faces (trained on 20 people,
            tested on 10 others; seeds 0-3) it lowered the mean EER from
            0.036 to 0.026 and from 0.048 to 0.031 (on aligned faces from
            0.046 to 0.020 and from 0.054 to 0.036).
        augment: the `Augmentation` (or `CopyAugmentation`), or `None`.
            Defaults to `Augmentation(max_zoom=0.2, max_rotation=12.0)`:
            faces and objects are photographed at varying distances and
            tilts.
        seed: seed of the batches and the initial weights. Defaults to `0`.
    """

    epochs: int = 90
    identities_per_batch: int = 16
    images_per_identity: int = 4
    batches_per_epoch: int | None = None
    learning_rate: float = 2e-3
    loss: str = "triplet"
    margin: float | None = None
    temperature: float | None = None
    backbone: str = "small_cnn"
    weights: object = None
    pooling: str = "flatten"
    dense_units: int = 256
    embedding_dim: int = 128
    dropout: float = 0.0
    weight_decay: float = 0.0
    standardize: bool = True
    test_time_zooms: tuple[float, ...] | None = (0.9, 1.0, 1.1)
    whitening: float | None = 0.01
    augment: Augmentation | CopyAugmentation | None = Augmentation(
        max_zoom=0.2, max_rotation=12.0
    )
    seed: int = 0


def train_verification_model(
    images,
    labels,
    *,
    config: TrainingConfig = TrainingConfig(),
    validation: tuple | None = None,
    backup_dir: str | os.PathLike | None = None,
    keep_backup: bool = False,
    callbacks: list | None = None,
    verbose: str | int = "auto",
    distribution: _distribution.DataParallel | None = None,
) -> tuple[SiameseModel, keras.callbacks.History]:
    """Trains a `SiameseModel` on labelled images with in-batch pairs.

    A `SiameseModel` whose tower gives L2-normalized embeddings is trained
    on P x K identity batches (batch-hard triplet or all-pairs contrastive
    loss) with augmentation and a cosine learning-rate schedule, then the
    tower's whitening is fitted to the training images. The model's
    `threshold` is provisional: set it from `evaluate_verification` on
    held-out identities.

    Args:
        images: array `(num_images, height, width, channels)`, 0-255.
        labels: one identity label per image.
        config: a `TrainingConfig`. Defaults to `TrainingConfig()`.
        validation: optional `(images, labels)` of other identities,
            evaluated on P x K batches after each epoch (`val_auc`, ...).
        backup_dir: folder for a `siamesekit.training.TrainingBackup`
            (written after each epoch): an interrupted run started again
            with the same folder and settings resumes from its last
            finished epoch; other settings, or a backup cut short, raise
            `TrainingBackupError`. Defaults to `None` (no backup).
        keep_backup: bool, keep the backup when this function returns, so
            that a run killed before the model is saved still resumes;
            delete it with `siamesekit.training.remove_backup` after saving.
            Defaults to `False`: deleted once training and whitening are
            done.
        callbacks: more Keras callbacks. Defaults to `None`.
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
        distribution: a `siamesekit.training.DataParallel` to train on
            several devices (or processes, on JAX). Each P x K batch is the
            global batch, split over the devices, and trains as it would on
            one device; `identities_per_batch * images_per_identity` must be
            a multiple of the number of devices. After a multi-process run,
            every process returns the same one-process model. Defaults to
            `None`: one device.

    Returns:
        `(model, history)`: a compiled `SiameseModel` and the Keras history.
    """
    images = check_images(images)
    identities = group_identities(labels, num_images=len(images))
    epochs = check_integer("epochs", config.epochs, minimum=1)
    identities_per_batch = check_integer(
        "identities_per_batch", config.identities_per_batch, minimum=2
    )
    seed = check_integer("seed", config.seed, minimum=0)
    if backup_dir is not None:
        backup_dir = check_backup_dir(backup_dir)
    per_batch = min(identities_per_batch, identities.num_identities)
    if distribution is not None:
        distribution.check_batch_size(
            per_batch * config.images_per_identity,
            "identities_per_batch * images_per_identity",
        )
    keras.utils.set_random_seed(seed)
    batches = identity_batch_dataset(
        images,
        labels,
        identities_per_batch=per_batch,
        images_per_identity=config.images_per_identity,
        batches_per_epoch=config.batches_per_epoch,
        augment=config.augment,
        seed=seed,
    )
    validation_batches = None
    if validation is not None:
        validation_images, validation_labels = validation
        validation_identities = group_identities(
            validation_labels, num_images=len(validation_images)
        )
        if validation_identities.num_identities < 2:
            raise DatasetError(
                "Validation needs at least two identities; got "
                f"{validation_identities.num_identities}."
            )
        validation_per_batch = min(per_batch, validation_identities.num_identities)
        if distribution is not None:
            distribution.check_batch_size(
                validation_per_batch * config.images_per_identity,
                "validation identities per batch * images_per_identity",
            )
        validation_batches = identity_batch_dataset(
            validation_images,
            validation_labels,
            identities_per_batch=validation_per_batch,
            images_per_identity=config.images_per_identity,
            seed=seed + 1,
        )
    if config.loss == "triplet":
        loss = BatchHardTripletLoss(0.3 if config.margin is None else config.margin)
    elif config.loss == "contrastive":
        loss = InBatchContrastiveLoss(0.8 if config.margin is None else config.margin)
    elif config.loss == "nt_xent":
        loss = NTXentLoss(0.1 if config.temperature is None else config.temperature)
    else:
        raise InvalidArgumentError(
            "`loss` must be 'triplet', 'contrastive' or 'nt_xent'. "
            f"Received: loss={config.loss!r}"
        )
    scope = contextlib.nullcontext() if distribution is None else distribution.scope()
    # Variables are made, and batches split, by the distribution's scope.
    with scope:
        tower = EmbeddingTower(
            backbone=config.backbone,
            input_shape=images.shape[1:],
            weights=config.weights,
            pooling=config.pooling,
            dense_units=config.dense_units,
            embedding_dim=config.embedding_dim,
            dropout=config.dropout,
            normalize=True,
            standardize=config.standardize,
            test_time_zooms=config.test_time_zooms,
            test_time_flip=config.augment is not None and config.augment.flip,
            whitening=config.whitening,
        )
        model = SiameseModel(tower)
        # BackupAndRestore needs built weights to restore into.
        model.build((None,) + tuple(images.shape[1:]))
        steps = epochs * int(batches.cardinality())
        schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
        if config.weight_decay > 0:
            optimizer = keras.optimizers.AdamW(
                schedule, weight_decay=config.weight_decay
            )
        else:
            optimizer = keras.optimizers.Adam(schedule)
        # The threshold follows the loss, for the `pair_accuracy` shown during
        # training only; the final one is measured.
        model.compile(optimizer=optimizer, loss=loss)
        all_callbacks = [StopOnNaN()]
        if backup_dir is not None:
            settings = {
                field.name: _setting(getattr(config, field.name))
                for field in dataclasses.fields(config)
            }
            settings.update(
                image_shape=list(images.shape[1:]),
                num_images=len(images),
                num_identities=identities.num_identities,
                num_validation_images=None
                if validation is None
                else len(validation[0]),
            )
            all_callbacks.append(TrainingBackup(backup_dir, settings=settings))
        all_callbacks += list(callbacks or [])
        history = model.fit(
            batches,
            epochs=epochs,
            validation_data=validation_batches,
            callbacks=all_callbacks,
            verbose=verbose,
            # The batches are already drawn at random.
            shuffle=False,
        )
    if distribution is not None and _distribution.process_count() > 1:
        model = _one_process_copy(model, images.shape[1:])
        tower = model.tower
    if tower.whitening is not None:
        tower.adapt_whitening(images)
    if (
        backup_dir is not None
        and not keep_backup
        and _distribution.process_index() == 0
    ):
        remove_backup(backup_dir)
    return model, history


def _setting(value):
    """A JSON value that changes when the setting does."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_setting(item) for item in value]
    return repr(value)


def _one_process_copy(model, image_shape):
    """The trained model with variables of this process only.

    Weights replicated over the devices of several processes can only be
    used by programs that all processes run together; the copy serves one
    process (whitening, evaluation, saving).
    """
    copy = SiameseModel.from_config(model.get_config())
    copy.build((None,) + tuple(image_shape))
    copy.set_weights(model.get_weights())
    copy.compile(
        optimizer=keras.optimizers.deserialize(
            keras.optimizers.serialize(model.optimizer)
        ),
        loss=model.loss,
    )
    return copy
