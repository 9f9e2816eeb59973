"""Fit the CAE's combined decision rule on held-out simulations and store it with the weights.

Usage::

    GALKIN_CACHE=/tmp/galkin_cache python scripts/fit_cae_decision.py [--weights PATH]
        [--galaxies 500] [--views 4] [--seed 4048] [--threads 1]

The rule (:mod:`galkin_plugins.cae.decision`: a logistic regression of
``kappa > 0.5`` on the folded latent radius and height, the residual of a
rotating-disc fit, the map's pixel-to-pixel roughness and the PA agreement,
each averaged over the map's eight rotations and reflections as the classifier
averages them, thresholded where the TP and TN rates meet) is fitted on simulated maps the CAE
was not trained on (seed 4048; ``--galaxies`` of each population, 4 views each,
half noiseless, half S/N 5-20, as the training set) and written into the
weights file's metadata under ``"decision"``, with its checksum. Rerun it
whenever the CAE weights, the disc fit or the simulated population change;
``scripts/train_cae.py`` runs it after training.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from galkin_plugins.cae import CAEClassifier
from galkin_plugins.cae import decision as dec
from galkin_plugins.cae.weights import DEFAULT_WEIGHTS, save_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_cae  # noqa: E402


def fit_rule(classifier, data):
    """The combined rule fitted on ``data`` (from make_views) for ``classifier``, on the
    features the classifier decides on (averaged over the maps' eight orientations)."""
    disc = dec.disc_features(data["images"], data["masks"])
    return dec.fit_decision(classifier.decision_features(data["images"], disc), data["kappa"])


def refit(weights, galaxies=500, views=4, seed=4048, population="mixed"):
    """Fit the rule for ``weights`` and rewrite the file with it; returns the rule."""
    t0 = time.perf_counter()
    data, path = train_cae.training_set(galaxies, views, 0.5, seed, population, galaxies)
    classifier = CAEClassifier(weights)
    rule = fit_rule(classifier, data)
    rule["fitted_on"] = {
        "set": path.name,
        "population": population,
        "galaxies": galaxies,
        "views": views,
        "seed": seed,
        "n_maps": len(data["kappa"]),
    }
    meta = classifier.metadata
    save_weights(
        classifier.model,
        weights,
        calibration=meta["calibration"],
        training=meta["training"],
        decision=rule,
    )
    print(
        f"decision rule on {len(data['kappa'])} held-out maps: equal-rate recall "
        f"{rule['rate']:.3f} (latent boundary alone: see bench_cae.py); coef "
        f"{dict(zip(rule['features'], np.round(rule['coef'], 3), strict=True))} "
        f"({time.perf_counter() - t0:.0f} s) -> {weights}"
    )
    return rule


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    p.add_argument("--galaxies", type=int, default=500)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--seed", type=int, default=4048)
    p.add_argument("--population", choices=("mixed", "gas", "v1"), default="mixed")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    refit(args.weights, args.galaxies, args.views, args.seed, args.population)


if __name__ == "__main__":
    main()
