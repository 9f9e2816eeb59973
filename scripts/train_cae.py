"""Train the CAE classifier on simulated particle galaxies and ship its weights.

Usage::

    python scripts/train_cae.py [--epochs 120] [--galaxies 1600] [--out PATH]

The training set is cached in ``$GALKIN_CACHE`` (default ``~/.cache/galkin``).
Reproducible: every random draw comes from ``--seed``.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from galkin_plugins.cae.training import calibrate, encode, make_views, train
from galkin_plugins.cae.weights import DEFAULT_WEIGHTS, save_weights


def training_set(galaxies=1600, views=8, noisy_fraction=0.5, seed=2024):
    """The training images of make_views, cached in $GALKIN_CACHE: ``(data, path)``."""
    cache = Path(os.environ.get("GALKIN_CACHE", Path.home() / ".cache" / "galkin"))
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"cae_train_g{galaxies}_v{views}_n{noisy_fraction}_s{seed}.npz"
    if path.exists():
        return dict(np.load(path)), path
    data = make_views(
        galaxies, views=views, snr=(5.0, 20.0), noisy_fraction=noisy_fraction, seed=seed
    )
    np.savez_compressed(path, **data)
    return data, path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=1600)
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--epochs", type=int, default=120)
    p.add_argument("--samples-per-epoch", type=int, default=3200)
    p.add_argument("--halve-every", type=int, default=30)
    p.add_argument("--noisy-fraction", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data, path = training_set(args.galaxies, args.views, args.noisy_fraction, args.seed)
    t1 = time.perf_counter()
    print(
        f"{len(data['kappa'])} images ({(data['kappa'] > 0.5).mean():.0%} regular) "
        f"in {t1 - t0:.0f} s -> {path}"
    )
    model, history = train(
        data["images"],
        data["masks"],
        data["kappa"],
        epochs=args.epochs,
        samples_per_epoch=args.samples_per_epoch,
        halve_every=args.halve_every,
        seed=args.seed,
        log=print,
    )
    t2 = time.perf_counter()
    calib = calibrate(
        encode(model, data["images"]),
        data["kappa"],
        data["position_angle"],
        data["inclination"],
    )
    config = {k: v for k, v in vars(args).items() if k != "out"}
    config.update(
        batch_size=32,
        lr=1e-3,
        snr_range=[5.0, 20.0],
        n_images=len(data["kappa"]),
        final_loss=history[-1],
        train_seconds=round(t2 - t1, 1),
    )
    save_weights(model, args.out, calibration=calib, training=config)
    print(
        f"trained in {t2 - t1:.0f} s; boundary {calib['boundary']:.3f} "
        f"(train recall {calib['train_recall']:.3f}); PA sigma {calib['pa_sigma']} -> {args.out}"
    )


if __name__ == "__main__":
    main()
