"""Save and load CAE weights safely: a plain ``state_dict`` plus metadata.

The file is ``{"state_dict": ..., "metadata": ...}`` written by `torch.save` and
read with ``torch.load(..., weights_only=True)`` (no pickled code). The metadata
holds the architecture name, galkin version, training configuration, the
latent calibration (PCA mean and matrix, boundary, PA offset and PA errors by
inclination), the combined decision rule when one was fitted, and a SHA-256
checksum over the tensors and the metadata (the format of `galkin.weights`,
shared with the blind SAE). Any mismatch raises
`~galkin.ModelWeightsError`.
"""

from pathlib import Path

from galkin import weights
from galkin.exceptions import ModelWeightsError

from .network import ARCHITECTURE, ConvAutoencoder

__all__ = ["DEFAULT_WEIGHTS", "save_weights", "load_weights"]

#: The shipped weights.
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "cae.pt"
#: How to rebuild them (quoted in errors).
RETRAIN = "python scripts/train_cae.py"


def save_weights(model, path, *, calibration, training, decision=None):
    """Write ``model`` and its calibration to ``path`` (see `galkin.weights`).

    Parameters
    ----------
    model : `~galkin_plugins.cae.ConvAutoencoder`
    path : str or `pathlib.Path`
    calibration : dict
        JSON-serialisable latent calibration.
    training : dict
        JSON-serialisable training configuration.
    decision : dict, optional
        The combined decision rule of :func:`galkin_plugins.cae.decision.fit_decision`
        (with how it was fitted).
    """
    metadata = {
        "architecture": ARCHITECTURE,
        "size": model.size,
        "latent_dim": model.latent_dim,
        "calibration": calibration,
        "training": training,
    }
    if decision is not None:
        metadata["decision"] = decision
    weights.save_weights(model.state_dict(), metadata, path)


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
    state, metadata = weights.load_weights(path, ARCHITECTURE, retrain=RETRAIN)
    model = ConvAutoencoder(metadata["size"], metadata["latent_dim"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelWeightsError(f"{path} does not fit the CAE: {exc}") from exc
    return model.eval(), metadata
