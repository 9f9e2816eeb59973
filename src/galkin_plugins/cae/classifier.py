"""The trained CAE and its latent calibration, as one classifier object."""

import numpy as np
import torch

from . import latent as lat
from .weights import load_weights

__all__ = ["CAEClassifier"]


class CAEClassifier:
    """Regular/disturbed classifier and PA estimator from the CAE latent space.

    Parameters
    ----------
    weights : str or `pathlib.Path`, optional
        Weights file from ``scripts/train_cae.py``; the shipped one by default.
    """

    name = "cae"

    def __init__(self, weights=None):
        self.model, self.metadata = load_weights(weights)
        cal = self.metadata["calibration"]
        self.mean, self.matrix = np.asarray(cal["mean"]), np.asarray(cal["matrix"])
        self.boundary = float(cal["boundary"])
        self.outside_is_regular = bool(cal["outside_is_regular"])
        self.pa_offset = float(cal["pa_offset"])
        self.size = int(self.metadata["size"])

    def pa_error(self, inclination_deg=None):
        """Calibrated PA 1-sigma (deg) at ``inclination_deg`` (array), or over all."""
        cal = self.metadata["calibration"]
        if inclination_deg is None:
            return float(cal["pa_sigma_all"])
        idx = np.clip(np.digitize(inclination_deg, cal["pa_bins"]) - 1, 0, len(cal["pa_sigma"]) - 1)
        return np.asarray(cal["pa_sigma"])[idx]

    def predict(self, images):
        """Classify ``(N, size, size)`` normalised images (blanks 0).

        Returns
        -------
        dict of `numpy.ndarray`
            ``latent`` (N x 3, PCA-rotated), ``radius`` and ``height`` (folded),
            ``boundary_distance`` (positive on the regular side), ``regular``
            (bool) and ``position_angle`` (deg, east of north to the receding side).
        """
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)[:, None]
        with torch.no_grad():
            raw = self.model.encode(x).numpy().astype(float)
        rotated = lat.rotate(raw, self.mean, self.matrix)
        radius, height = lat.fold(rotated)
        sign = 1.0 if self.outside_is_regular else -1.0
        distance = sign * (radius - self.boundary)
        return {
            "latent": rotated,
            "radius": radius,
            "height": height,
            "boundary_distance": distance,
            "regular": distance > 0,
            "position_angle": lat.latent_position_angle(rotated, self.pa_offset),
        }
