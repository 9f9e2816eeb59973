"""Draw the CAE figures of docs/user_guide/disturbed.rst into docs/_static/.

Usage::

    python scripts/cae_figures.py [--galaxies 100] [--weights PATH]

The latent space of held-out noiseless simulations of the star-forming gas
population coloured by kappa, position angle and inclination (as thesis Fig.
2.5), and the confusion matrices of the thesis's latent boundary and of the
combined decision.
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from galkin_plugins.cae import CAEClassifier  # noqa: E402
from galkin_plugins.cae.training import make_views  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "docs" / "_static"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--galaxies", type=int, default=100)
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--weights", default=None)
    args = p.parse_args(argv)
    clf = CAEClassifier(args.weights)
    data = make_views(args.galaxies, views=4, seed=args.seed)
    out = clf.predict(data["images"], data["masks"], method="cae")
    lat = out["latent"]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), subplot_kw={"projection": "3d"})
    for ax, key, cmap, label in zip(
        axes,
        ("kappa", "position_angle", "inclination"),
        ("viridis", "twilight", "plasma"),
        (r"$\kappa$", "PA (deg)", "inclination (deg)"),
        strict=True,
    ):
        sc = ax.scatter(lat[:, 0], lat[:, 1], lat[:, 2], c=data[key], cmap=cmap, s=3)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("z")
        fig.colorbar(sc, ax=ax, shrink=0.6, label=label)
    fig.tight_layout()
    STATIC.mkdir(exist_ok=True)
    fig.savefig(STATIC / "cae_latent.png", dpi=80)
    regular = data["kappa"] > 0.5
    methods = ("cae", "combined") if clf.rule else ("cae",)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.4 * len(methods), 3.2), squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        pred = clf.predict(data["images"], data["masks"], method=method)["regular"]
        matrix = np.array(
            [
                [np.mean(~pred[~regular]), np.mean(pred[~regular])],
                [np.mean(~pred[regular]), np.mean(pred[regular])],
            ]
        )
        ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.0%}", ha="center", va="center")
        ax.set_xticks([0, 1], ["disturbed", "regular"])
        ax.set_yticks([0, 1], [r"$\kappa<0.5$", r"$\kappa>0.5$"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(method)
    fig.tight_layout()
    fig.savefig(STATIC / "cae_confusion.png", dpi=80)
    print(f"wrote {STATIC / 'cae_latent.png'} and {STATIC / 'cae_confusion.png'}")


if __name__ == "__main__":
    main()
