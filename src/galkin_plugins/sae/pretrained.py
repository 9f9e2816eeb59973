"""The pretrained ("blind") SAE: its weights file, loading and error calibration.

``scripts/train_sae_blind.py`` trains the network on galkin's own simulated
galaxies and writes ``galkin_plugins/weights/sae-blind.pt`` with
:func:`galkin.weights.save_weights`. The metadata records the architecture, the
profile pair, map size, dropout, parameter bounds, the simulated sets and training
configuration, and the error calibration.

Honest errors
-------------
The metadata also holds the error calibration, a table fitted on held-out
simulated galaxies (``galkin_plugins.sae.calibration``).
"""

import functools
from pathlib import Path

import numpy as np

from galkin.exceptions import GalkinError, ModelWeightsError
from galkin.weights import load_weights

from .calibration import ErrorCalibration, roughness_columns
from .network import SAENetwork

__all__ = [
    "ARCHITECTURE",
    "BLIND_WEIGHTS",
    "RETRAIN",
    "blind_network",
    "prediction_arrays",
    "calibrated_arrays",
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
        beam_input=metadata.get("beam_input", False),
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
            f"The pretrained blind network is for intensity={have[0]!r}, "
            f"velocity={have[1]!r}, size={have[2]} only; got intensity={intensity!r}, "
            f"velocity={velocity!r}, size={size}. Use galkin.fit(data, mode='solo') (or "
            f"'combined') for other profiles, or train blind weights for them with {RETRAIN}."
        )
    return net, metadata


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


def calibrated_arrays(net, metadata, rows, batch, names=None):
    """:func:`prediction_arrays` plus the calibrated 1-sigma errors of the blind weights.

    ``rows`` are :func:`~.training.predict`'s output for the maps in ``batch`` (a
    ``MapBatch``); the calibration in ``metadata`` reads each map's roughness.

    Returns
    -------
    mean, mc, aleatoric, sigma : `numpy.ndarray`
        ``(N, len(names))`` each (default ``net.space.names``), decoder units.
    """
    names = net.space.names if names is None else tuple(names)
    mean, mc, ale = prediction_arrays(rows, names)
    roughness = roughness_columns(
        batch.m0.numpy(), batch.m1.numpy(), batch.mask.numpy(), names, net.space.moment0_names
    )
    calibration = ErrorCalibration.from_metadata(metadata["calibration"])
    return mean, mc, ale, calibration.sigma(mc, ale, roughness, names)
