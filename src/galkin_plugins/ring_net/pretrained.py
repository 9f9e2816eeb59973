"""The shipped ring-network weights: file, loading and prediction.

``scripts/train_ring_net.py`` trains `~galkin_plugins.ring_net.network.RingNetwork`
on simulated galaxies of known curve and writes ``galkin_plugins/weights/ring-net.pt``
with :func:`galkin.weights.save_weights` (state dict in float16, metadata with the
radii, the training sets and the held-out accuracy).
"""

import functools
from pathlib import Path

import numpy as np

from galkin.exceptions import ModelWeightsError
from galkin.weights import load_weights

__all__ = ["ARCHITECTURE", "RING_WEIGHTS", "RETRAIN", "ring_network", "predict_speeds"]

#: Architecture tag stored in (and required of) the weights file.
ARCHITECTURE = "galkin-ring-net/sae-trunk-3ch/beam/inclination/v2"
#: The shipped weights.
RING_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "ring-net.pt"
#: How to rebuild them (quoted in errors).
RETRAIN = "python scripts/train_ring_net.py --cache DIR"


@functools.lru_cache(maxsize=4)
def _load(path, mtime):
    from .network import RingNetwork

    state, metadata = load_weights(path, ARCHITECTURE, retrain=RETRAIN)
    net = RingNetwork(size=metadata["size"], hidden=metadata["hidden"], radii=metadata["radii"])
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelWeightsError(f"{path} does not fit the ring network: {exc}") from exc
    return net.eval(), metadata


def ring_network(path=None):
    """The trained network and its metadata (read once per file, then cached).

    Parameters
    ----------
    path : str or `pathlib.Path`, optional
        Another weights file (default the shipped one).

    Raises
    ------
    galkin.ModelWeightsError
        The file is missing, modified or for another architecture.
    """
    path = Path(path or RING_WEIGHTS)
    mtime = path.stat().st_mtime if path.exists() else None
    return _load(path, mtime)


def predict_speeds(prepared, *, path=None):
    """The network's rotation curves of prepared galaxies.

    Parameters
    ----------
    prepared : list of `~galkin.preprocess.PreparedMaps`
    path : str or `pathlib.Path`, optional
        Another weights file.

    Returns
    -------
    radii : `numpy.ndarray`
        ``(K,)`` the network's radii (field units).
    speeds : `numpy.ndarray`
        ``(B, K)`` ``V sin i`` at ``radii`` (velocity-scale units).
    inclination : `numpy.ndarray`
        ``(B,)`` radians.
    """
    import torch

    from galkin_plugins.sae.training import stack_prepared

    net, metadata = ring_network(path)
    size = metadata["size"]
    for p in prepared:
        if p.moment1.shape != (size, size):
            raise ModelWeightsError(
                f"the ring network reads {size}x{size} maps; got {p.moment1.shape} "
                f"(galkin.fit(..., size={size}))."
            )
    batch = stack_prepared(prepared)
    with torch.no_grad():
        speeds, inclination = net(
            batch.m0.float(), batch.m1.float(), batch.mask.float(), batch.beams.float()
        )
    return np.asarray(net.radii), speeds.numpy().astype(float), inclination.numpy().astype(float)
