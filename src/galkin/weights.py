"""Safe files for trained networks: a plain ``state_dict`` plus JSON-like metadata.

A weights file is ``{"state_dict": ..., "metadata": ...}`` written by `torch.save`
and read with ``torch.load(..., weights_only=True)``, so loading never runs pickled
code. The metadata names the architecture and holds the galkin version, the
training configuration, whatever calibration the model needs, and a SHA-256
checksum over the tensors and the metadata. Any mismatch -- unreadable file,
another architecture, edited contents -- raises `~galkin.ModelWeightsError` with
the command that rebuilds the file.
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .exceptions import ModelWeightsError

__all__ = ["save_weights", "load_weights", "checksum"]


def checksum(state_dict, metadata):
    """SHA-256 over the tensors (in key order) and the metadata without its checksum."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(state_dict[key].cpu().numpy()).tobytes())
    meta = {k: v for k, v in metadata.items() if k != "checksum"}
    digest.update(json.dumps(meta, sort_keys=True).encode())
    return digest.hexdigest()


def save_weights(state_dict, metadata, path, *, dtype=None):
    """Write a state dict and its metadata to ``path``.

    Parameters
    ----------
    state_dict : dict of str to `torch.Tensor`
    metadata : dict
        JSON-serialisable; must contain ``"architecture"``. The galkin version
        and the checksum are added.
    path : str or `pathlib.Path`
    dtype : `torch.dtype`, optional
        Store floating-point tensors in this type (e.g. ``torch.float16`` to halve
        the file); :func:`load_weights` returns float32.
    """
    from . import __version__

    if "architecture" not in metadata:
        raise ValueError("metadata must name the 'architecture'.")
    state = {}
    for key, value in state_dict.items():
        value = value.detach().cpu().clone()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        state[key] = value
    # plain Python types only: weights_only=True refuses NumPy scalars
    metadata = json.loads(json.dumps({**metadata, "galkin_version": __version__}))
    metadata["checksum"] = checksum(state, metadata)
    torch.save({"state_dict": state, "metadata": metadata}, Path(path))


def load_weights(path, architecture, *, retrain):
    """Read a file written by :func:`save_weights` and check it.

    Parameters
    ----------
    path : str or `pathlib.Path`
    architecture : str
        The architecture the caller builds; the file must name the same.
    retrain : str
        How to rebuild the file (quoted in errors), e.g. a script command.

    Returns
    -------
    state_dict : dict of str to `torch.Tensor`
        Floating-point tensors as float32.
    metadata : dict

    Raises
    ------
    galkin.ModelWeightsError
    """
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        state, metadata = blob["state_dict"], blob["metadata"]
    except Exception as exc:
        raise ModelWeightsError(
            f"Cannot read weights from {path}: {type(exc).__name__}: {exc}. "
            f"Rebuild them with {retrain} or reinstall galkin."
        ) from exc
    if metadata.get("architecture") != architecture:
        raise ModelWeightsError(
            f"{path} holds weights for architecture {metadata.get('architecture')!r}, but this "
            f"galkin expects {architecture!r}: rebuild them with {retrain}."
        )
    if metadata.get("checksum") != checksum(state, metadata):
        raise ModelWeightsError(
            f"The checksum of {path} does not match its contents: the file was modified or "
            f"corrupted. Reinstall galkin or rebuild it with {retrain}."
        )
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return state, metadata
