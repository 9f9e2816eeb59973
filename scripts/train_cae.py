"""Train the CAE classifier on simulated particle galaxies and ship its weights.

Usage::

    python scripts/train_cae.py [--epochs 120] [--galaxies 2000] [--v1-galaxies 1600]
                                [--population mixed] [--out PATH] [--no-decision]
                                [--init PATH --lr 2.5e-4 --v1-weight 3]

The shipped weights were made with::

    GALKIN_CACHE=/tmp/galkin_cache OMP_NUM_THREADS=1 python scripts/train_cae.py --threads 1

The training set (``--population mixed``: 2000 galaxies of the star-forming gas
population of :mod:`galkin.simulation.gas.population` seen as ALMA would, and
1600 of the first, simpler population of :mod:`galkin.simulation.particles`;
``gas`` or ``v1`` for one of them), 8 views each, half of them with noise, is
cached in ``$GALKIN_CACHE`` (default ``~/.cache/galkin``). After
training and the latent calibration, the combined decision rule is fitted on a
separate held-out set by ``scripts/fit_cae_decision.py`` (skip it with
``--no-decision``). Reproducible: every random draw comes from ``--seed``.

``--init PATH`` fine-tunes those weights instead of starting afresh (with
``--lr`` and ``--epochs`` for the shorter schedule); ``--v1-weight W`` draws the
first population's images ``W`` times as often as the kappa balancing alone
would (``--population mixed`` only).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from galkin.velocity_image import VERSION as IMAGE_VERSION
from galkin_plugins.cae.training import calibrate, encode, make_views, train
from galkin_plugins.cae.weights import DEFAULT_WEIGHTS, load_weights, save_weights


def _cached_views(population, galaxies, views, noisy_fraction, seed):
    cache = Path(os.environ.get("GALKIN_CACHE", Path.home() / ".cache" / "galkin"))
    cache.mkdir(parents=True, exist_ok=True)
    tag = "" if population == "v1" else f"_{population}"
    name = f"cae_train{tag}_g{galaxies}_v{views}_n{noisy_fraction}_s{seed}_img{IMAGE_VERSION}"
    path = cache / f"{name}.npz"
    if path.exists():
        return dict(np.load(path)), path
    data = make_views(
        galaxies,
        views=views,
        snr=(5.0, 20.0),
        noisy_fraction=noisy_fraction,
        seed=seed,
        population=population,
    )
    np.savez_compressed(path, **data)
    return data, path


def training_set(
    galaxies=2000, views=8, noisy_fraction=0.5, seed=2024, population="mixed", v1_galaxies=1600
):
    """The images of make_views, cached in $GALKIN_CACHE: ``(data, path)``.

    ``population="mixed"`` joins ``galaxies`` of the gas population and
    ``v1_galaxies`` of the first one (``galaxy`` indices of the second set follow
    the first's; ``path`` is the gas set's).
    """
    if population != "mixed":
        return _cached_views(population, galaxies, views, noisy_fraction, seed)
    gas, path = _cached_views("gas", galaxies, views, noisy_fraction, seed)
    old, _ = _cached_views("v1", v1_galaxies, views, noisy_fraction, seed)
    old["galaxy"] = old["galaxy"] + galaxies
    return {k: np.concatenate([gas[k], old[k]]) for k in gas}, path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=2000)
    p.add_argument("--v1-galaxies", type=int, default=1600)
    p.add_argument("--population", choices=("mixed", "gas", "v1"), default="mixed")
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--epochs", type=int, default=120)
    p.add_argument("--samples-per-epoch", type=int, default=3200)
    p.add_argument("--halve-every", type=int, default=30)
    p.add_argument("--noisy-fraction", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--init", type=Path, default=None, help="fine-tune these weights")
    p.add_argument("--v1-weight", type=float, default=1.0, help="sampling factor of v1 images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--no-decision", action="store_true", help="skip fitting the combined rule")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data, path = training_set(
        args.galaxies, args.views, args.noisy_fraction, args.seed, args.population, args.v1_galaxies
    )
    t1 = time.perf_counter()
    print(
        f"{len(data['kappa'])} images ({(data['kappa'] > 0.5).mean():.0%} regular) "
        f"in {t1 - t0:.0f} s -> {path}"
    )
    first = data["galaxy"] >= args.galaxies if args.population == "mixed" else None
    if args.v1_weight != 1.0 and first is None:
        p.error("--v1-weight needs --population mixed")
    init, init_meta = load_weights(args.init) if args.init else (None, None)
    model, history = train(
        data["images"],
        data["masks"],
        data["kappa"],
        epochs=args.epochs,
        samples_per_epoch=args.samples_per_epoch,
        halve_every=args.halve_every,
        lr=args.lr,
        seed=args.seed,
        model=init,
        sample_weight=None if first is None else np.where(first, args.v1_weight, 1.0),
        log=print,
    )
    t2 = time.perf_counter()
    calib = calibrate(
        encode(model, data["images"]),
        data["kappa"],
        data["position_angle"],
        data["inclination"],
    )
    config = {k: v for k, v in vars(args).items() if k not in ("out", "init")}
    if args.init:
        config["init"] = {"file": args.init.name, "training": init_meta["training"]}
    config.update(
        batch_size=32,
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
    if not args.no_decision:
        import fit_cae_decision

        fit_cae_decision.refit(args.out, population=args.population)


if __name__ == "__main__":
    main()
