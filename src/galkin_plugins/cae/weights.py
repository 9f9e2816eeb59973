"""Save and load CAE weights safely: a plain ``state_dict`` plus metadata.

The file is ``{"state_dict": ..., "metadata": ...}`` written by `torch.save` and
read with ``torch.load(..., weights_only=True)`` (no pickled code). The metadata
holds the architecture name, galkin version, training configuration, the
latent calibration (PCA mean and matrix, boundary, PA offset and PA errors by
inclination) and a SHA-256 checksum over the tensors and the metadata. Any
mismatch raises `~galkin.ModelWeightsError`.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from galkin import __version__
from galkin.exceptions import ModelWeightsError

from .network import ARCHITECTURE, ConvAutoencoder

__all__ = ["DEFAULT_WEIGHTS", "save_weights", "load_weights"]

#: The shipped weights.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "cae.pt"


def _checksum(state_dict, metadata):
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(state_dict[key].cpu().numpy()).tobytes())
    meta = {k: v for k, v in metadata.items() if k != "checksum"}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    return digest.hexdigest()


def save_weights(model, path, *, calibration, training):
    """Write ``model`` and its calibration to ``path``.

    Parameters
    ----------
    model : `~galkin_plugins.cae.ConvAutoencoder`
    path : str or `pathlib.Path`
    calibration : dict
        JSON-serialisable latent calibration.
    training : dict
        JSON-serialisable training configuration.
    """
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    metadata = {
        "architecture": ARCHITECTURE,
        "size": model.size,
        "latent_dim": model.latent_dim,
        "galkin_version": __version__,
        "calibration": calibration,
        "training": training,
    }
    # plain Python types only: weights_only=True refuses NumPy scalars
    metadata = json.loads(json.dumps(metadata))
    metadata["checksum"] = _checksum(state, metadata)
    torch.save({"state_dict": state, "metadata": metadata}, Path(path))


def load_weights(path=None):
    """Load weights written by :func:`save_weights`.

    Returns
    -------
    model : `~galkin_plugins.cae.ConvAutoencoder`
        In eval mode.
    metadata : dict

    Raises
    ------
    galkin.ModelWeightsError
        Missing or unreadable file, another architecture, or a checksum mismatch.
    """
    path = Path(path or DEFAULT_WEIGHTS)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        state, metadata = blob["state_dict"], blob["metadata"]
    except Exception as exc:
        raise ModelWeightsError(
            f"Cannot read CAE weights from {path}: {type(exc).__name__}: {exc}. Retrain them "
            "with scripts/train_cae.py or reinstall galkin."
        ) from exc
    if metadata.get("architecture") != ARCHITECTURE:
        raise ModelWeightsError(
            f"{path} holds weights for architecture {metadata.get('architecture')!r}, but this "
            f"galkin's CAE is {ARCHITECTURE!r}: retrain with scripts/train_cae.py."
        )
    if metadata.get("checksum") != _checksum(state, metadata):
        raise ModelWeightsError(
            f"The checksum of {path} does not match its contents: the file was modified or "
            "corrupted. Reinstall galkin or retrain with scripts/train_cae.py."
        )
    model = ConvAutoencoder(metadata["size"], metadata["latent_dim"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelWeightsError(f"{path} does not fit the CAE: {exc}") from exc
    return model.eval(), metadata
