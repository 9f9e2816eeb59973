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
galaxy. Their quadrature sum is multiplied by one factor per parameter, chosen on
a held-out simulated set so that 68% of the truths fall within the 1-sigma
interval (:func:`coverage_factors`).
"""

import functools
from pathlib import Path

import numpy as np

from galkin.exceptions import GalkinError
from galkin.weights import load_weights

from .network import SAENetwork

__all__ = [
    "ARCHITECTURE",
    "BLIND_WEIGHTS",
    "RETRAIN",
    "blind_network",
    "coverage_factors",
    "calibrated_sigma",
    "to_device",
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
def _load(path, mtime):
    state, metadata = load_weights(path, ARCHITECTURE, retrain=RETRAIN)
    net = build_network(metadata)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        from galkin.exceptions import ModelWeightsError

        raise ModelWeightsError(f"{path} does not fit the blind SAE: {exc}") from exc
    return net.eval(), metadata


def blind_network(intensity, velocity, size, *, path=None):
    """The pretrained network for a profile pair, and its metadata.

    Parameters
    ----------
    intensity, velocity : str
        Profile names.
    size : int
        Network map size.
    path : str or `pathlib.Path`, optional
        Another weights file (default the shipped one).

    Raises
    ------
    galkin.GalkinError
        No pretrained network for this profile pair or size.
    galkin.ModelWeightsError
        The file is missing, tampered with or for another architecture.
    """
    path = Path(path or BLIND_WEIGHTS)
    mtime = path.stat().st_mtime if path.exists() else None
    net, metadata = _load(path, mtime)
    have = (metadata["intensity"], metadata["velocity"], metadata["size"])
    if (intensity, velocity, size) != have:
        raise GalkinError(
            f"mode='blind' has a pretrained network for intensity={have[0]!r}, "
            f"velocity={have[1]!r}, size={have[2]} only; got intensity={intensity!r}, "
            f"velocity={velocity!r}, size={size}. Use mode='solo' (or 'combined') for other "
            f"profiles, or train blind weights for them with {RETRAIN}."
        )
    return net, metadata


def coverage_factors(residual, sigma, *, level=0.68):
    """Per-parameter factors that make ``factor * sigma`` cover ``level`` of the residuals.

    Parameters
    ----------
    residual, sigma : `numpy.ndarray`
        ``(N, P)`` prediction minus truth and the uncalibrated 1-sigma errors.
    level : float, optional

    Returns
    -------
    `numpy.ndarray`
        ``(P,)`` factors: the ``level`` quantile of ``|residual| / sigma``.
    """
    ratio = np.abs(residual) / np.clip(sigma, 1e-12, None)
    return np.quantile(ratio, level, axis=0)


def calibrated_sigma(mc_std, aleatoric_std, factors):
    """``factors * hypot(mc_std, aleatoric_std)`` (arrays broadcast over galaxies)."""
    return np.asarray(factors) * np.hypot(mc_std, aleatoric_std)


def to_device(net, device):
    """The cached CPU network, or a copy of it on another ``device``."""
    import copy

    return net if str(device) == "cpu" else copy.deepcopy(net).to(device)
