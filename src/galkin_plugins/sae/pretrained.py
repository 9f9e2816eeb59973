"""The pretrained ("blind") SAE: its weights file, loading and error calibration.

``scripts/train_sae_blind.py`` trains the network on galkin's own simulated
galaxies and writes ``galkin_plugins/weights/sae-blind.pt`` with
:func:`galkin.weights.save_weights`. The metadata records the architecture, the
profile pair, map size, dropout, parameter bounds, the simulated sets and training
configuration, and the error calibration.

Honest errors
-------------
A prediction's uncertainty has two parts: the spread of the Monte-Carlo-dropout
samples (the model's own uncertainty; thesis Eq. 3.7) and the scatter the data
allow (the "aleatoric" part), which the network's log-variance heads predict per
galaxy. Their quadrature sum ``s`` becomes ``a s^b``, with ``a`` and ``b`` per
parameter chosen on held-out simulated sets so that 68% of the truths fall within the 1-sigma
interval -- at every error level, not only on average (:func:`fit_calibration`).
"""

import functools
from pathlib import Path

import numpy as np

from galkin.exceptions import GalkinError, ModelWeightsError
from galkin.weights import load_weights

from .network import SAENetwork

__all__ = [
    "ARCHITECTURE",
    "BLIND_WEIGHTS",
    "RETRAIN",
    "blind_network",
    "fit_calibration",
    "calibrated_sigma",
    "prediction_arrays",
]

#: Architecture tag stored in (and required of) blind weights files.
ARCHITECTURE = "galkin-sae-table3.1/2ch-mask/tanh-head/aleatoric/v1"
#: The shipped weights.
BLIND_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "sae-blind.pt"
#: How to rebuild them (quoted in errors).
RETRAIN = "python scripts/train_sae_blind.py"


def build_network(metadata):
    """An untrained network with the architecture ``metadata`` describes."""
    from galkin.plugins import get_profile

    return SAENetwork(
        get_profile(metadata["intensity"], "intensity")(),
        get_profile(metadata["velocity"], "velocity")(),
        size=metadata["size"],
        dropout=metadata["dropout"],
        scale_height=metadata["scale_height"],
        aleatoric=True,
    )


@functools.lru_cache(maxsize=4)
def _load(path, mtime, device):
    state, metadata = load_weights(path, ARCHITECTURE, retrain=RETRAIN)
    net = build_network(metadata)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelWeightsError(f"{path} does not fit the blind SAE: {exc}") from exc
    return net.to(device).eval(), metadata


def blind_network(intensity, velocity, size, *, path=None, device="cpu"):
    """The pretrained network for a profile pair, and its metadata.

    Parameters
    ----------
    intensity, velocity : str
        Profile names.
    size : int
        Network map size.
    path : str or `pathlib.Path`, optional
        Another weights file (default the shipped one).
    device : str, optional
        torch device; the network is read once per file and device, then cached.

    Raises
    ------
    galkin.GalkinError
        No pretrained network for this profile pair or size.
    galkin.ModelWeightsError
        The file is missing, tampered with or for another architecture.
    """
    path = Path(path or BLIND_WEIGHTS)
    mtime = path.stat().st_mtime if path.exists() else None
    net, metadata = _load(path, mtime, str(device))
    have = (metadata["intensity"], metadata["velocity"], metadata["size"])
    if (intensity, velocity, size) != have:
        raise GalkinError(
            f"mode='blind' has a pretrained network for intensity={have[0]!r}, "
            f"velocity={have[1]!r}, size={have[2]} only; got intensity={intensity!r}, "
            f"velocity={velocity!r}, size={size}. Use mode='solo' (or 'combined') for other "
            f"profiles, or train blind weights for them with {RETRAIN}."
        )
    return net, metadata


def fit_calibration(residual, sigma, *, level=0.68, n_bins=5, powers=None):
    """Per-parameter power laws ``a sigma^b`` whose intervals cover ``level`` at every error level.

    A single factor makes the *average* coverage right but can leave the
    precise galaxies (small ``sigma``) over-covered and the hard ones
    under-covered. For each power ``b`` on a grid, ``a`` is set so that
    ``a sigma^b`` covers ``level`` of all residuals; the ``b`` whose coverage in
    ``n_bins`` quantile bins of ``sigma`` deviates least from ``level`` wins.

    Parameters
    ----------
    residual, sigma : `numpy.ndarray`
        ``(N, P)`` prediction minus truth and the uncalibrated 1-sigma errors.
    level : float, optional
    n_bins : int, optional
    powers : sequence of float, optional
        Grid of ``b`` (default 0.5 to 2 in steps of 0.05; ``b = 1`` is a plain factor).

    Returns
    -------
    scale, power : `numpy.ndarray`
        ``(P,)`` each.
    """
    residual, sigma = np.atleast_2d(residual), np.clip(np.atleast_2d(sigma), 1e-12, None)
    powers = np.arange(0.5, 2.0001, 0.05) if powers is None else np.asarray(powers)
    scales, best = [], []
    for k in range(residual.shape[1]):
        r, s = np.abs(residual[:, k]), sigma[:, k]
        edges = np.quantile(s, np.linspace(0, 1, n_bins + 1))
        bins = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, n_bins - 1)
        scores = []
        for b in powers:
            a = np.quantile(r / s**b, level)
            inside = r <= a * s**b
            cover = np.array([inside[bins == j].mean() for j in range(n_bins)])
            scores.append((np.max(np.abs(cover - level)), a, b))
        _, a, b = min(scores, key=lambda t: t[0])
        scales.append(a)
        best.append(b)
    return np.array(scales), np.array(best)


def calibrated_sigma(mc_std, aleatoric_std, scale, power=1.0):
    """``scale * hypot(mc_std, aleatoric_std) ** power`` (arrays broadcast over galaxies)."""
    return np.asarray(scale) * np.hypot(mc_std, aleatoric_std) ** np.asarray(power)


def prediction_arrays(rows, names):
    """Mean, MC-dropout spread and aleatoric sigma of :func:`~.training.predict` rows.

    Returns
    -------
    mean, mc, aleatoric : `numpy.ndarray`
        ``(N, len(names))`` each, decoder units.
    """
    mean = np.array([[r["samples"][k].mean() for k in names] for r in rows])
    mc = np.array([[r["samples"][k].std() for k in names] for r in rows])
    aleatoric = np.array([[r["aleatoric"][k] for k in names] for r in rows])
    return mean, mc, aleatoric
