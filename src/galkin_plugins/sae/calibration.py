"""Calibrated errors for the blind SAE: a table fitted on held-out simulations.

A prediction's uncertainty has two parts: the spread of the Monte-Carlo-dropout
samples (the model's own uncertainty; thesis Eq. 3.7) and the scatter the data
allow (the "aleatoric" part), which the network's log-variance heads predict per
galaxy. Their quadrature sum ``s`` ranks galaxies well but is not a calibrated
1-sigma error, and how far off it is depends on how noisy the maps are: a
network trained on both noiseless and noisy cubes is over-cautious on the first
and over-confident on the second. So the calibrated error is

    sigma = f(s, roughness) * s,

with ``f`` a table over quantile bins of ``s`` and of the velocity map's
*roughness* (:func:`velocity_roughness`, the pixel-to-pixel scatter of the
prepared moment-1 map: the noise, measured on the map itself, so it exists for
every galaxy at inference). Each cell's factor is the 68th percentile of
``|pred - truth| / s`` of the held-out galaxies that fall in it, so that 68% of
the truths lie inside the interval at every error level *and* every noise level.
Values outside the calibrated range use the nearest cell.
"""

import dataclasses

import numpy as np
from scipy import ndimage

from galkin.exceptions import ModelWeightsError

__all__ = ["ErrorCalibration", "velocity_roughness"]


def velocity_roughness(moment1, mask):
    """Pixel-to-pixel scatter of prepared moment-1 maps (units of ``v_scale``).

    The rms of ``moment1 - median3(moment1)`` over the mask shrunk by one pixel (a
    smooth rotation field leaves almost nothing; noise does). Accepts one map
    ``(H, W)`` or a stack ``(N, H, W)``; returns a float or ``(N,)`` array.
    """
    m1 = np.asarray(moment1, dtype=float)
    mask = np.asarray(mask) > 0
    if m1.ndim == 2:
        return float(velocity_roughness(m1[None], mask[None])[0])
    out = np.empty(len(m1))
    for k, (v, good) in enumerate(zip(m1, mask, strict=True)):
        inner = ndimage.binary_erosion(good, iterations=1)
        use = inner if inner.sum() >= 20 else good
        d = (v - ndimage.median_filter(v, size=3))[use]
        out[k] = np.sqrt(np.mean(d**2)) if d.size else 0.0
    return out


def _cell(values, edges):
    """Quantile-bin index of ``values`` (outside the edges: the nearest bin)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


@dataclasses.dataclass
class ErrorCalibration:
    """Per-parameter factor tables ``f(s, roughness)``; see the module notes.

    Attributes
    ----------
    names : tuple of str
        Parameters, in the network's output order.
    sigma_edges : dict of str to `numpy.ndarray`
        Quantile-bin edges of ``s`` per parameter (decoder units).
    roughness_edges : `numpy.ndarray`
        Quantile-bin edges of the roughness.
    factor : dict of str to `numpy.ndarray`
        ``(n_sigma_bins, n_roughness_bins)`` per parameter.
    level : float
        The coverage the factors are set for.
    """

    names: tuple
    sigma_edges: dict
    roughness_edges: np.ndarray
    factor: dict
    level: float = 0.68

    @classmethod
    def fit(
        cls,
        residual,
        sigma,
        roughness,
        names,
        *,
        level=0.68,
        n_sigma_bins=5,
        n_roughness_bins=4,
        use=None,
        min_galaxies=20,
    ):
        """Fit the tables on held-out galaxies.

        Parameters
        ----------
        residual, sigma : `numpy.ndarray`
            ``(N, P)`` prediction minus truth and the uncalibrated ``s``.
        roughness : `numpy.ndarray`
            ``(N,)`` from :func:`velocity_roughness`.
        names : sequence of str
            The ``P`` parameter names.
        level : float, optional
        n_sigma_bins, n_roughness_bins : int, optional
        use : `numpy.ndarray`, optional
            ``(N, P)`` booleans: which galaxies calibrate each parameter (e.g. only
            those whose position angle was estimated, for the position angle).
        min_galaxies : int, optional
            A cell with fewer galaxies takes its error level's overall factor.
        """
        residual = np.abs(np.atleast_2d(residual))
        sigma = np.clip(np.atleast_2d(sigma), 1e-12, None)
        roughness = np.asarray(roughness, dtype=float)
        use = np.ones(residual.shape, bool) if use is None else np.asarray(use, bool)
        r_edges = np.quantile(roughness, np.linspace(0, 1, n_roughness_bins + 1))
        sigma_edges, factor = {}, {}
        for k, name in enumerate(names):
            r, s, f = residual[use[:, k], k], sigma[use[:, k], k], roughness[use[:, k]]
            edges = np.quantile(s, np.linspace(0, 1, n_sigma_bins + 1))
            rows, cols = _cell(s, edges), _cell(f, r_edges)
            table = np.empty((n_sigma_bins, n_roughness_bins))
            for i in range(n_sigma_bins):
                level_i = rows == i
                overall = np.quantile(r[level_i] / s[level_i], level)
                for j in range(n_roughness_bins):
                    sel = level_i & (cols == j)
                    enough = sel.sum() >= min_galaxies
                    table[i, j] = np.quantile(r[sel] / s[sel], level) if enough else overall
            sigma_edges[name], factor[name] = edges, table
        return cls(tuple(names), sigma_edges, r_edges, factor, level)

    def sigma(self, mc_std, aleatoric_std, roughness, names=None):
        """Calibrated 1-sigma errors, ``(N, P)`` for ``names`` (default all), decoder units."""
        names = self.names if names is None else tuple(names)
        s = np.atleast_2d(np.hypot(mc_std, aleatoric_std))
        cols = _cell(np.atleast_1d(np.asarray(roughness, dtype=float)), self.roughness_edges)
        out = np.empty(np.broadcast_shapes(s.shape, (len(cols), len(names))))
        s = np.broadcast_to(s, out.shape)
        for k, name in enumerate(names):
            rows = _cell(s[:, k], self.sigma_edges[name])
            out[:, k] = self.factor[name][rows, cols] * s[:, k]
        return out

    def to_metadata(self):
        """Plain lists and floats, for the weights file's metadata."""
        return {
            "method": "table: quantile bins of s x velocity roughness",
            "level": float(self.level),
            "names": list(self.names),
            "sigma_edges": {k: [float(x) for x in v] for k, v in self.sigma_edges.items()},
            "roughness_edges": [float(x) for x in self.roughness_edges],
            "factor": {k: np.asarray(v).tolist() for k, v in self.factor.items()},
        }

    @classmethod
    def from_metadata(cls, metadata):
        """Rebuild from :meth:`to_metadata`; a weights file without a table is refused."""
        try:
            return cls(
                names=tuple(metadata["names"]),
                sigma_edges={k: np.asarray(v) for k, v in metadata["sigma_edges"].items()},
                roughness_edges=np.asarray(metadata["roughness_edges"]),
                factor={k: np.asarray(v) for k, v in metadata["factor"].items()},
                level=float(metadata["level"]),
            )
        except (KeyError, TypeError) as exc:
            raise ModelWeightsError(
                "The blind weights' error calibration is missing or in an older format "
                f"({exc!r}); recalibrate them with "
                "python scripts/train_sae_blind.py --cache DIR --calibrate-only."
            ) from None
