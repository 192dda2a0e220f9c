"""`siamesekit train --duplicates DIR --out model.keras`: a near-duplicates model."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

_DEFAULT_SIZE = (64, 64)
_DEFAULT_CHANNELS = 3


def run_duplicates(args: argparse.Namespace) -> int:
    """Trains on the unlabelled images of `args.duplicates` and saves the model."""
    import dataclasses

    from siamesekit.commands.model_files import check_output_path, save_model_file
    from siamesekit.commands.train import _say, fit_verbosity
    from siamesekit.data.image_folder import list_image_files, load_images
    from siamesekit.training.callbacks import check_backup_dir, remove_backup
    from siamesekit.training.duplicates import (
        DUPLICATES_CONFIG,
        train_duplicates_model,
    )

    out = check_output_path(args.out, overwrite=args.overwrite)
    backup_dir = check_backup_dir(args.backup_dir or out + ".backup")
    started = time.perf_counter()
    size = tuple(args.size or _DEFAULT_SIZE)
    channels = args.channels or _DEFAULT_CHANNELS
    paths = list_image_files(args.duplicates)
    with warnings.catch_warnings():
        # Listed below, one line per file, rather than in one long warning.
        warnings.simplefilter("ignore")
        decoded = load_images(paths, size=size, channels=channels)
    for error in decoded.errors:
        print(f"siamesekit train: warning: skipped: {error}", file=sys.stderr)
    say = _say(args.quiet)
    say(
        f"Read {len(decoded.images)} images from {args.duplicates}"
        + (
            f" ({len(decoded.skipped)} unreadable files skipped)"
            if decoded.skipped
            else ""
        )
    )
    config = dataclasses.replace(
        DUPLICATES_CONFIG,
        epochs=args.epochs or DUPLICATES_CONFIG.epochs,
        seed=args.seed,
    )
    if os.path.isdir(backup_dir):
        print(f"Resuming from the backup in {backup_dir}")
    model, history = train_duplicates_model(
        decoded.images,
        image_size=size,
        channels=channels,
        config=config,
        backup_dir=backup_dir,
        keep_backup=True,
        verbose=fit_verbosity(args.quiet),
    )
    save_model_file(model, out, overwrite=args.overwrite)
    remove_backup(backup_dir)
    minutes = (time.perf_counter() - started) / 60
    loss = history.history["loss"][-1] if history.history.get("loss") else float("nan")
    print(
        f"Saved {out} (duplicates model, {size[0]}x{size[1]}x{channels}, "
        f"{config.epochs} epochs, final loss {loss:.4f}) after {minutes:.1f} min"
    )
    return 0
