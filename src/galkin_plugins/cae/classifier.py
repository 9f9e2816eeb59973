"""The trained CAE, its latent calibration and its decision rule, as one classifier object."""

import numpy as np
import torch

from galkin.exceptions import GalkinError

from . import decision as dec
from . import latent as lat
from .weights import load_weights

__all__ = ["CAEClassifier", "METHODS"]

#: Decisions :meth:`CAEClassifier.predict` can make.
METHODS = ("combined", "cae")


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
        self.rule = self.metadata.get("decision")

    @property
    def default_method(self):
        """``"combined"`` when the weights carry a fitted decision rule, else ``"cae"``."""
        return "combined" if self.rule else "cae"

    def pa_error(self, inclination_deg=None):
        """Calibrated PA 1-sigma (deg) at ``inclination_deg`` (array), or over all."""
        cal = self.metadata["calibration"]
        if inclination_deg is None:
            return float(cal["pa_sigma_all"])
        idx = np.clip(np.digitize(inclination_deg, cal["pa_bins"]) - 1, 0, len(cal["pa_sigma"]) - 1)
        return np.asarray(cal["pa_sigma"])[idx]

    def latent(self, images):
        """PCA-rotated latent vectors ``(N, 3)`` of ``(N, size, size)`` images."""
        x = torch.as_tensor(np.asarray(images), dtype=torch.float32)[:, None]
        with torch.no_grad():
            raw = torch.cat([self.model.encode(b) for b in x.split(256)]).numpy().astype(float)
        return lat.rotate(raw, self.mean, self.matrix)

    def decision_features(self, images, disc):
        """The combined rule's features of ``images``, averaged over their
        :data:`~galkin_plugins.cae.decision.ORIENTATIONS`.

        ``disc`` is :func:`~galkin_plugins.cae.decision.disc_features` of the images
        (invariant, computed once); the CAE's PA in each orientation is taken back
        to the image's own frame before it is compared with the disc fit's. The
        rule is affine, so its score on these is the mean of its scores on each
        orientation.
        """
        stack = []
        for turns, mirror in dec.ORIENTATIONS:
            rotated = self.latent(dec.orient(images, turns, mirror))
            radius, height = lat.fold(rotated)
            pa = lat.latent_position_angle(rotated, self.pa_offset)
            pa = dec.original_position_angle(pa, turns, mirror)
            stack.append(dec.features(radius, height, pa, disc))
        return np.mean(stack, axis=0)

    def predict(self, images, masks=None, *, method=None):
        """Classify ``(N, size, size)`` normalised images (blanks 0).

        Parameters
        ----------
        images : array_like
        masks : array_like of bool, optional
            Valid pixels of each image; needed by ``method="combined"``.
        method : {"combined", "cae"}, optional
            ``"cae"``: the thesis's boundary on the folded latent radius;
            ``"combined"``: the rule of :mod:`~galkin_plugins.cae.decision`
            (latent radius and height, rotating-disc residual, roughness, PA agreement),
            its score averaged over the image's eight rotations and reflections so
            that the label does not depend on how the map is stored.
            Default :attr:`default_method`.

        Returns
        -------
        dict of `numpy.ndarray`
            ``latent`` (N x 3, PCA-rotated), ``radius`` and ``height`` (folded),
            ``cae_distance`` (latent radius beyond the boundary, positive on the
            regular side), ``disc_residual`` and ``disc_position_angle`` (NaN for
            ``"cae"``), ``boundary_distance`` (of the decision made: positive on
            the regular side), ``regular`` (bool) and ``position_angle`` (deg,
            east of north to the receding side, from the latent angle).
        """
        method = method or self.default_method
        if method not in METHODS:
            raise GalkinError(f"method must be one of {METHODS}; got {method!r}.")
        if method == "combined" and not self.rule:
            raise GalkinError(
                "These CAE weights carry no combined decision rule; use method='cae' or fit "
                "one with: python scripts/fit_cae_decision.py --weights PATH"
            )
        rotated = self.latent(images)
        radius, height = lat.fold(rotated)
        sign = 1.0 if self.outside_is_regular else -1.0
        cae_distance = sign * (radius - self.boundary)
        pa = lat.latent_position_angle(rotated, self.pa_offset)
        disc = np.full((len(rotated), 3), np.nan)
        distance = cae_distance
        if method == "combined":
            if masks is None:
                raise GalkinError("method='combined' needs the masks of the images.")
            disc = dec.disc_features(images, masks)
            distance = dec.decide(self.rule, self.decision_features(images, disc))
        return {
            "latent": rotated,
            "radius": radius,
            "height": height,
            "cae_distance": cae_distance,
            "disc_residual": 10 ** disc[:, 0],
            "disc_position_angle": disc[:, 1],
            "boundary_distance": distance,
            "regular": distance > 0,
            "position_angle": pa,
        }
