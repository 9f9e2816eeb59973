"""Noise estimation and 3-D emission masks for spectral cubes.

``data`` is anything with a 3-D ``shape`` ``(n_channel, ny, nx)`` whose
``data[c]`` is the 2-D plane of channel ``c`` (a NumPy array, a memory map, a
reader around a `~spectral_cube.SpectralCube`); planes are read one at a time,
so a large cube costs little more than its boolean mask.  NaN marks blanks.

Noise (:func:`estimate_rms`) is measured in *line-free channels*: a robust
sigma (1.4826 x the median absolute deviation) of their voxels, where the
line channels are found iteratively as those with a significant excess of
positive over negative outliers.  (The thesis measured it along spatial rows,
which mixes emission into the noise.)  Real cubes are noisier in some channels
than others (band edges, RFI, atmospheric lines), so the masks threshold each
channel against its own noise, :func:`channel_rms`: the robust sigma of the
channel's negative voxels, which emission does not reach (as SoFiA does).
This assumes continuum-subtracted data (noise centred on zero).

Masks:

* :func:`clip_mask`: voxels above ``nsigma`` x rms in at least two adjacent
  channels (a single noise spike cannot make a pixel valid);
* :func:`smooth_mask`: the smooth-mask method of Dame (2011, arXiv:1101.1499):
  smooth spatially (Gaussian) and spectrally (Hanning), threshold the smoothed
  cube at ``nsigma`` x *its* rms, drop small islands, grow the mask by one
  voxel, and apply it to the original cube.  Faint extended emission survives.
"""

import warnings

import numpy as np
from scipy import ndimage

from ..exceptions import GalkinError, GalkinWarning

__all__ = ["robust_sigma", "estimate_rms", "channel_rms", "clip_mask", "smooth_mask"]

#: Median absolute deviation of a Gaussian, in units of its sigma, inverted.
MAD_TO_SIGMA = 1.482602218505602

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))
_GAUSS_AREA = np.pi / (4 * np.log(2))  # area of a 2-D Gaussian / FWHM^2
_HANNING = (0.25, 0.5, 0.25)
_HANNING_VAR = sum(w * w for w in _HANNING)
#: Voxels sampled per channel to measure the noise (bounds time and memory).
MAX_SAMPLES_PER_CHANNEL = 50_000


def robust_sigma(values):
    """Robust standard deviation, ``1.4826 * median(|x - median(x)|)``, ignoring NaN.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(0, 2, 100_000)
    >>> x[:500] = 1e3  # outliers barely move it
    >>> round(float(robust_sigma(x)), 1)
    2.0
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))


def _check_cube(data):
    shape = getattr(data, "shape", None)
    if shape is None or len(shape) != 3:
        raise GalkinError(f"Expected a 3-D cube (channel, y, x); got shape {shape}.")
    return shape


def _plane(data, c):
    return np.asarray(data[c], dtype=np.float32)


def _channel_samples(planes):
    """Stack a regular subsample of each channel into a ``(n_channel, m)`` array."""
    rows = []
    for plane in planes:
        step = max(1, int(np.ceil(plane.size / MAX_SAMPLES_PER_CHANNEL)))
        rows.append(plane.ravel()[::step])
    return np.vstack(rows)


def _samples(data):
    return _channel_samples(_plane(data, c) for c in range(_check_cube(data)[0]))


def _rms_from_samples(samples, nsigma, max_iter):
    """Iterative line-free-channel robust sigma of a ``(n_channel, m)`` sample."""
    has_data = np.isfinite(samples).any(axis=1)
    if not has_data.any():
        raise GalkinError("The cube has no finite voxel: it is entirely blank (NaN).")
    line_free = has_data.copy()
    sigma = robust_sigma(samples[has_data])
    if not sigma > 0:
        raise GalkinError(
            "Cannot estimate the noise: the cube's voxels are (nearly) all identical. "
            "Pass noise= explicitly (a Quantity in the cube's brightness unit)."
        )
    with np.errstate(invalid="ignore"):
        for _ in range(max_iter):
            npos = (samples > nsigma * sigma).sum(axis=1)
            nneg = (samples < -nsigma * sigma).sum(axis=1)
            excess = (npos - nneg).astype(float)
            # Significant excess of positive outliers: Poisson scatter, or the
            # empirical scatter of line-free channels when the noise is correlated.
            scatter = np.maximum(np.sqrt(npos + nneg + 1.0), robust_sigma(excess[line_free]))
            line = ndimage.binary_dilation(excess > nsigma * scatter)  # + line wings
            new_free = has_data & ~line
            if new_free.sum() < 2:
                return _rms_from_negatives(samples), new_free
            new_sigma = robust_sigma(samples[new_free])
            converged = abs(new_sigma - sigma) <= 1e-3 * sigma and np.array_equal(
                new_free, line_free
            )
            sigma, line_free = new_sigma, new_free
            if converged:
                break
    return sigma, line_free


def _negative_sigma(values, min_count=20):
    """Robust sigma of the negative values, ``1.4826 * median(-x | x < 0)``; NaN if too few."""
    neg = values[np.isfinite(values) & (values < 0)]
    return MAD_TO_SIGMA * float(np.median(-neg)) if neg.size >= min_count else np.nan


def _rms_from_negatives(samples):
    warnings.warn(
        "Every channel of the cube contains emission, so there are no line-free channels "
        "to measure the noise in; it was estimated from the negative voxels instead "
        "(assumes continuum-subtracted data). Pass noise= to set it.",
        GalkinWarning,
        stacklevel=4,
    )
    return _negative_sigma(samples, min_count=1)


def _per_channel(samples):
    """Noise of each channel from its negative voxels (NaN for blank channels)."""
    rms = np.array([_negative_sigma(row) for row in samples])
    has_data = np.isfinite(samples).any(axis=1)
    missing = has_data & ~np.isfinite(rms)
    if missing.any():  # too few negative voxels: use the typical channel's noise
        typical = np.nanmedian(rms) if np.isfinite(rms).any() else _negative_sigma(samples, 1)
        rms[missing] = typical
    return rms


def estimate_rms(data, *, nsigma=3.0, max_iter=20):
    """Noise rms of a cube, measured in its line-free channels.

    1. Start from the robust sigma of all voxels.
    2. In each channel count the voxels above ``+nsigma * sigma`` and below
       ``-nsigma * sigma``; Gaussian noise gives as many of each, emission an
       excess of positive ones.  Channels whose excess is significant (beyond
       ``nsigma`` times its Poisson or empirical scatter), and their neighbours,
       are line channels.
    3. Re-measure the robust sigma in the remaining channels; repeat to convergence.

    If no channel is line-free, the noise comes from the negative voxels and a
    `~galkin.GalkinWarning` is emitted.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        NaN marks blank voxels.
    nsigma : float, optional
        Outlier threshold used to find line channels.
    max_iter : int, optional

    Returns
    -------
    rms : float
        In the unit of ``data``.
    line_free : ndarray of bool, shape ``(n_channel,)``
        The channels the rms was measured in.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cube = rng.normal(0.0, 0.5, (30, 40, 40))
    >>> cube[10:20, 10:30, 10:30] += 3.0  # a line in channels 10-19
    >>> rms, free = estimate_rms(cube)
    >>> round(rms, 2), bool(free[:9].all()), bool(free[10:20].any())
    (0.5, True, False)
    """
    return _rms_from_samples(_samples(data), nsigma, max_iter)


def channel_rms(data):
    """Noise of each channel: the robust sigma of its negative voxels.

    Emission is positive, so the negative half of a continuum-subtracted
    channel is noise even where the line is bright.  Channels with fewer than
    20 negative voxels get the median of the others; blank channels NaN.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``

    Returns
    -------
    ndarray, shape ``(n_channel,)``

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> cube = rng.normal(0.0, 1.0, (3, 100, 100)) * np.array([1.0, 2.0, 1.0])[:, None, None]
    >>> cube[1, 20:80, 20:80] += 20.0  # bright line in the noisy channel
    >>> np.round(channel_rms(cube), 1)
    array([1., 2., 1.])
    """
    return _per_channel(_samples(data))


def _thresholds(rms, n_channel, nsigma):
    rms = np.asarray(rms, dtype=float)
    if rms.ndim == 0:
        rms = np.full(n_channel, float(rms))
    if rms.shape != (n_channel,):
        raise GalkinError(f"rms must be a scalar or one value per channel ({n_channel}).")
    return nsigma * rms


def clip_mask(data, rms, *, nsigma=3.0, min_channels=2):
    """Voxels brighter than ``nsigma * rms`` in ``min_channels`` adjacent channels.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
    rms : float or array of shape ``(n_channel,)``
        Noise, in the unit of ``data`` (e.g. :func:`channel_rms`).
    nsigma : float, optional
    min_channels : {1, 2}, optional
        2 keeps a voxel only when a spectral neighbour also passes, which rejects
        single-channel noise spikes (with 40 channels at 3 sigma about 5% of pure
        noise pixels would otherwise show "emission").

    Returns
    -------
    ndarray of bool, shape of ``data``

    Examples
    --------
    >>> import numpy as np
    >>> cube = np.zeros((5, 2, 2))
    >>> cube[1:3, 0, 0] = 10.0  # two channels: kept
    >>> cube[3, 1, 1] = 10.0    # one channel: a spike, rejected
    >>> clip_mask(cube, 1.0).sum(axis=0)
    array([[2, 0],
           [0, 0]])
    """
    shape = _check_cube(data)
    if min_channels not in (1, 2):
        raise GalkinError(f"min_channels must be 1 or 2; got {min_channels!r}.")
    cut = _thresholds(rms, shape[0], nsigma)
    mask = np.zeros(shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for c in range(shape[0]):
            mask[c] = _plane(data, c) > cut[c]
    if min_channels == 2:
        neighbour = np.zeros_like(mask)
        neighbour[1:] |= mask[:-1]
        neighbour[:-1] |= mask[1:]
        mask &= neighbour
    return mask


def _separable(image, kernel):
    out = ndimage.correlate1d(image, kernel, axis=0, mode="constant")
    return ndimage.correlate1d(out, kernel, axis=1, mode="constant")


class _Smoother:
    """Gaussian then Hanning smoothing that keeps the noise level uniform.

    Near blanks and the cube's edges fewer voxels enter each sum; rather than
    renormalise the weights (which amplifies the noise there, so that edges
    fill with false detections) each sum is divided by the square root of its
    summed squared weights, relative to the interior.  For white noise the
    smoothed cube then has the same noise everywhere; in the interior it is the
    ordinary smoothed cube.
    """

    def __init__(self, data, fwhm_px):
        sigma = float(fwhm_px) * _FWHM_TO_SIGMA
        radius = max(1, int(4 * sigma + 0.5))
        g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        self.g = (g / g.sum()).astype(np.float32)
        self.g2 = self.g**2
        self.data = data
        self._pattern = None

    def spatial(self, c):
        plane = _plane(self.data, c)
        finite = np.isfinite(plane)
        if self._pattern is None or not np.array_equal(finite, self._pattern):
            self._pattern = finite
            weight = _separable(finite.astype(np.float32), self.g)
            noise = np.sqrt(_separable(finite.astype(np.float32), self.g2)) / self.g2.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                self._scale = np.where(weight > 0.1, 1.0 / noise, np.nan).astype(np.float32)
        return _separable(np.where(finite, plane, 0.0).astype(np.float32), self.g) * self._scale

    def planes(self):
        """Yield the channels of the smoothed cube."""
        n_channel = self.data.shape[0]
        cache = {}
        for c in range(n_channel):
            cache.pop(c - 2, None)
            total = np.zeros(self.data.shape[1:], dtype=np.float32)
            var = np.zeros(self.data.shape[1:], dtype=np.float32)
            for offset, w in zip((-1, 0, 1), _HANNING, strict=True):
                if 0 <= c + offset < n_channel:
                    if c + offset not in cache:
                        cache[c + offset] = self.spatial(c + offset)
                    p = cache[c + offset]
                    ok = np.isfinite(p)
                    total += np.where(ok, w * p, 0.0)
                    var += w * w * ok
            with np.errstate(invalid="ignore", divide="ignore"):
                yield np.where(var > 0, total * np.sqrt(_HANNING_VAR / var), np.nan)


def smooth_mask(data, *, fwhm_px=2.0, nsigma=4.0, dilate=1, min_size=None, rms_factor=1.0):
    """Smooth-mask (Dame 2011): threshold a smoothed copy, apply to the original.

    The cube is smoothed spatially with a Gaussian of FWHM ``fwhm_px`` and
    spectrally with a 3-channel Hanning kernel; each smoothed channel is cut at
    ``nsigma`` times its own noise (:func:`channel_rms` of the smoothed cube);
    islands smaller than ``min_size`` voxels are dropped, the mask is grown by
    ``dilate`` voxels and blanks of ``data`` are removed.

    Dropping small islands matters: a smoothed noise cube has peaks above 4
    sigma far more often than the Gaussian tail suggests (random-field theory:
    about one per 10^5 voxels for a 3-pixel beam); they are smaller than a
    resolution element, while a resolved galaxy is one island many times larger.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
    fwhm_px : float, optional
        FWHM of the spatial Gaussian kernel in pixels (use the beam FWHM).
    nsigma : float, optional
        Threshold in units of the smoothed cube's rms.
    dilate : int, optional
        Grow the mask by this many voxels (spatially and spectrally).
    min_size : int, optional
        Smallest island (connected voxels above the threshold) kept; default
        one resolution element of the smoothed cube, three channels deep:
        ``3 * 1.133 * 2 * fwhm_px**2`` (the kernel convolved with a beam of the
        same size).  0 keeps every island.
    rms_factor : float or array of shape ``(n_channel,)``, optional
        Multiplies the measured rms of the smoothed cube (to impose a known noise).

    Returns
    -------
    mask : ndarray of bool, shape of ``data``
    rms : ndarray, shape ``(n_channel,)``
        rms of each channel of the smoothed cube (times ``rms_factor``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> cube = rng.normal(0.0, 1.0, (20, 30, 30))
    >>> cube[8:12, 10:20, 10:20] += 1.5  # faint: 1.5 sigma per voxel
    >>> mask, rms_s = smooth_mask(cube, fwhm_px=3.0)
    >>> bool(mask[9:11, 13:17, 13:17].all()), int(mask[:, :5, :5].sum())
    (True, 0)
    """
    shape = _check_cube(data)
    if not fwhm_px > 0:
        raise GalkinError(f"The smoothing kernel FWHM must be positive; got {fwhm_px} px.")
    smoother = _Smoother(data, fwhm_px)
    rms = _per_channel(_channel_samples(smoother.planes())) * np.asarray(rms_factor, dtype=float)
    cut = _thresholds(rms, shape[0], nsigma)
    mask = np.zeros(shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for c, plane in enumerate(smoother.planes()):
            mask[c] = plane > cut[c]
    if min_size is None:
        min_size = int(round(3 * _GAUSS_AREA * 2 * fwhm_px**2))
    if min_size > 1 and mask.any():
        labels, _ = ndimage.label(mask)
        keep = np.bincount(labels.ravel()) >= min_size
        keep[0] = False
        mask = keep[labels]
        del labels
    if dilate and mask.any():
        mask = ndimage.binary_dilation(mask, iterations=int(dilate))
    for c in range(shape[0]):
        mask[c] &= np.isfinite(_plane(data, c))
    return mask, rms
