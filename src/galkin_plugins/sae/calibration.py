"""Calibrated errors for the blind SAE: a table fitted on held-out simulations.

A prediction's uncertainty has two parts: the spread of the Monte-Carlo-dropout
samples (the model's own uncertainty; thesis Eq. 3.7) and the scatter the data
allow (the "aleatoric" part), which the network's log-variance heads predict per
galaxy. Their quadrature sum ``s`` ranks galaxies well but is not a calibrated
1-sigma error, and how far off it is depends on how noisy the maps are: a
network trained on both noiseless and noisy cubes is over-cautious on the first
and over-confident on the second. So the calibrated error is

    sigma = f(s, roughness) * s,

with ``f`` a table over quantile bins of ``s`` and of the *roughness*
(:func:`map_roughness`, the pixel-to-pixel scatter: the noise, measured on the
prepared map itself, so it exists for every galaxy at inference) of the map the
parameter's encoder reads -- moment 0 for the moment-0 encoder's parameters
(inclination, scale length), moment 1 for the others
(:func:`roughness_columns`). Shot noise in a cube mostly disturbs the
moment-0 map's shape, added noise mostly the velocities, so one map's noise
does not rank the other encoder's errors. Each cell's factor is the 68th percentile of
``|pred - truth| / s`` of the held-out galaxies that fall in it, so that 68% of
the truths lie inside the interval at every error level *and* every noise level.
Values outside the calibrated range use the nearest cell.
"""

import dataclasses

import numpy as np
from scipy import ndimage

from galkin.exceptions import ModelWeightsError

__all__ = ["ErrorCalibration", "map_roughness", "roughness_columns"]


def map_roughness(image, mask):
    """Pixel-to-pixel scatter of prepared (normalised) moment maps.

    The rms of ``image - median3(image)`` over the mask shrunk by one pixel (a
    smooth rotation field or disc leaves almost nothing; noise does). Accepts one
    map ``(H, W)`` or a stack ``(N, H, W)``; returns a float or ``(N,)`` array.
    """
    image = np.asarray(image, dtype=float)
    mask = np.asarray(mask) > 0
    if image.ndim == 2:
        return float(map_roughness(image[None], mask[None])[0])
    out = np.empty(len(image))
    for k, (v, good) in enumerate(zip(image, mask, strict=True)):
        inner = ndimage.binary_erosion(good, iterations=1)
        use = inner if inner.sum() >= 20 else good
        d = (v - ndimage.median_filter(v, size=3))[use]
        out[k] = np.sqrt(np.mean(d**2)) if d.size else 0.0
    return out


def roughness_columns(moment0, moment1, mask, names, moment0_names):
    """``(N, P)`` roughness per galaxy and parameter: that of the map its encoder reads.

    Parameters in ``moment0_names`` get the moment-0 map's roughness, the others
    the moment-1 map's.
    """
    r0, r1 = map_roughness(moment0, mask), map_roughness(moment1, mask)
    return np.stack([r0 if name in moment0_names else r1 for name in names], axis=-1)


def _cell(values, edges):
    """Quantile-bin index of ``values`` (outside the edges: the nearest bin)."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def _per_parameter(roughness, shape):
    """``(N, P)`` roughness from ``(N, P)``, ``(N,)`` or a scalar."""
    roughness = np.asarray(roughness, dtype=float)
    if roughness.ndim < 2:
        roughness = np.broadcast_to(np.atleast_1d(roughness)[:, None], shape)
    if roughness.shape != tuple(shape):
        raise ValueError(f"roughness has shape {roughness.shape}; expected {tuple(shape)}.")
    return roughness


@dataclasses.dataclass
class ErrorCalibration:
    """Per-parameter factor tables ``f(s, roughness)``; see the module notes.

    Attributes
    ----------
    names : tuple of str
        Parameters, in the network's output order.
    sigma_edges : dict of str to `numpy.ndarray`
        Quantile-bin edges of ``s`` per parameter (decoder units).
    roughness_edges : dict of str to `numpy.ndarray`
        Quantile-bin edges of the roughness per parameter.
    factor : dict of str to `numpy.ndarray`
        ``(n_sigma_bins, n_roughness_bins)`` per parameter.
    level : float
        The coverage the factors are set for.
    """

    names: tuple
    sigma_edges: dict
    roughness_edges: dict
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
            ``(N, P)`` from :func:`roughness_columns`, or ``(N,)`` (one map's
            roughness for every parameter).
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
        roughness = _per_parameter(roughness, residual.shape)
        use = np.ones(residual.shape, bool) if use is None else np.asarray(use, bool)
        sigma_edges, r_edges, factor = {}, {}, {}
        quantiles = np.linspace(0, 1, n_roughness_bins + 1)
        for k, name in enumerate(names):
            r, s, f = residual[use[:, k], k], sigma[use[:, k], k], roughness[use[:, k], k]
            edges = np.quantile(s, np.linspace(0, 1, n_sigma_bins + 1))
            r_edges[name] = np.quantile(roughness[:, k], quantiles)
            rows, cols = _cell(s, edges), _cell(f, r_edges[name])
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
        n = np.shape(roughness)[0] if np.ndim(roughness) else 1
        out = np.empty(np.broadcast_shapes(s.shape, (n, len(names))))
        s = np.broadcast_to(s, out.shape)
        roughness = _per_parameter(roughness, out.shape)
        for k, name in enumerate(names):
            rows = _cell(s[:, k], self.sigma_edges[name])
            cols = _cell(roughness[:, k], self.roughness_edges[name])
            out[:, k] = self.factor[name][rows, cols] * s[:, k]
        return out

    def to_metadata(self):
        """Plain lists and floats, for the weights file's metadata."""
        return {
            "method": "table: quantile bins of s x roughness of the encoder's map",
            "level": float(self.level),
            "names": list(self.names),
            "sigma_edges": {k: [float(x) for x in v] for k, v in self.sigma_edges.items()},
            "roughness_edges": {k: [float(x) for x in v] for k, v in self.roughness_edges.items()},
            "factor": {k: np.asarray(v).tolist() for k, v in self.factor.items()},
        }

    @classmethod
    def from_metadata(cls, metadata):
        """Rebuild from :meth:`to_metadata`; a weights file without a table is refused."""
        try:
            return cls(
                names=tuple(metadata["names"]),
                sigma_edges={k: np.asarray(v) for k, v in metadata["sigma_edges"].items()},
                roughness_edges={k: np.asarray(v) for k, v in metadata["roughness_edges"].items()},
                factor={k: np.asarray(v) for k, v in metadata["factor"].items()},
                level=float(metadata["level"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelWeightsError(
                "The blind weights' error calibration is missing or in an older format "
                f"({exc!r}); recalibrate them with "
                "python scripts/train_sae_blind.py --cache DIR --calibrate-only."
            ) from None
