"""Noise of a spectral cube: the rms of its line-free channels and of each channel.

``data`` is anything with a 3-D ``shape`` ``(n_channel, ny, nx)`` that slices
along its first axis (a NumPy array, a memory map, a reader around a
`~spectral_cube.SpectralCube`).  :func:`channel_blocks` reads it in blocks of
whole channels of at most :data:`BLOCK_VOXELS` voxels, each processed with
vectorised NumPy, so a small cube is a single block and a large one never
needs to be in memory at once.  NaN marks blanks.

:func:`estimate_rms` measures the noise in *line-free channels*: a robust sigma
(1.4826 x the median absolute deviation) of their voxels, where the line
channels are found iteratively as those with a significant excess of positive
over negative outliers.  (The thesis measured it along spatial rows, which
mixes emission into the noise.)  Real cubes are noisier in some channels than
others (band edges, RFI, atmospheric lines), so :func:`channel_rms` measures
each channel's own noise: the robust sigma of its negative voxels, which
emission does not reach (as SoFiA does).  This assumes continuum-subtracted
data (noise centred on zero).
"""

import warnings

import numpy as np
from scipy import ndimage

from ..exceptions import GalkinError, GalkinWarning

__all__ = [
    "robust_sigma",
    "estimate_rms",
    "channel_rms",
    "channel_blocks",
    "BLOCK_VOXELS",
    "MAD_TO_SIGMA",
]

#: Median absolute deviation of a Gaussian, in units of its sigma, inverted.
MAD_TO_SIGMA = 1.482602218505602
#: Largest number of voxels read and processed at once (64 MiB of float32).
BLOCK_VOXELS = 2**24
#: Voxels sampled per channel to measure the noise (bounds time and memory).
MAX_SAMPLES_PER_CHANNEL = 50_000
#: Voxels the robust sigma of :func:`estimate_rms` is computed from (its precision is
#: ``sqrt(1.36 / n)``: 0.3%).
MAX_SIGMA_SAMPLES = 2**17


def _median(values):
    """Median of a 1-D array without NaN (one partition: NumPy's two-index one is slower)."""
    half = values.size // 2
    part = np.partition(values, half)
    upper = float(part[half])
    return upper if values.size % 2 else 0.5 * (upper + float(part[:half].max()))


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
    values = np.asarray(values).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return MAD_TO_SIGMA * _median(np.abs(values - _median(values)))


def check_cube(data):
    shape = getattr(data, "shape", None)
    if shape is None or len(shape) != 3:
        raise GalkinError(f"Expected a 3-D cube (channel, y, x); got shape {shape}.")
    return shape


def channel_blocks(data, halo=0):
    """Yield ``(start, stop, block)``: float32 channels ``start - halo`` to ``stop + halo``
    (clipped to the cube) of consecutive blocks of whole channels."""
    n_channel, ny, nx = check_cube(data)
    step = max(1, BLOCK_VOXELS // max(1, ny * nx))
    for start in range(0, n_channel, step):
        stop = min(n_channel, start + step)
        lo, hi = max(0, start - halo), min(n_channel, stop + halo)
        yield start, stop, np.asarray(data[lo:hi], dtype=np.float32)


def sample_channels(blocks, max_per_channel=MAX_SAMPLES_PER_CHANNEL):
    """A regular subsample of each channel of the ``(start, stop, block)`` blocks, as
    a ``(n_channel, m)`` array of at most ``max_per_channel`` columns."""
    rows = []
    for _, _, block in blocks:
        flat = block.reshape(block.shape[0], -1)
        step = max(1, int(np.ceil(flat.shape[1] / max_per_channel)))
        rows.append(flat[:, ::step])
    return np.concatenate(rows)


def _rms_from_samples(samples, nsigma, max_iter):
    """Iterative line-free-channel robust sigma of a ``(n_channel, m)`` sample."""
    has_data = np.isfinite(samples).any(axis=1)
    if not has_data.any():
        raise GalkinError("The cube has no finite voxel: it is entirely blank (NaN).")
    line_free = has_data.copy()
    # the robust sigma from a regular subsample of columns (0.3% precision), the
    # line search from every sample
    sub = samples[:, :: max(1, int(np.ceil(samples.size / MAX_SIGMA_SAMPLES)))]
    sigma = robust_sigma(sub[has_data])
    if not sigma > 0:
        raise GalkinError(
            "Cannot estimate the noise: the cube's voxels are (nearly) all identical. "
            "Pass it (a Quantity in the cube's brightness unit), e.g. "
            "galkin.fit(data, noise=...) or galkin.maps_from_cube(cube, noise=...)."
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
            new_sigma = robust_sigma(sub[new_free])
            converged = abs(new_sigma - sigma) <= 1e-3 * sigma and np.array_equal(
                new_free, line_free
            )
            sigma, line_free = new_sigma, new_free
            if converged:
                break
    return sigma, line_free


def _rms_from_negatives(samples):
    warnings.warn(
        "Every channel of the cube contains emission, so there are no line-free channels "
        "to measure the noise in; it was estimated from the negative voxels instead "
        "(assumes continuum-subtracted data). To set it, pass e.g. "
        "galkin.fit(data, noise=...) or galkin.maps_from_cube(cube, noise=...).",
        GalkinWarning,
        stacklevel=5,
    )
    neg = samples[np.isfinite(samples) & (samples < 0)]
    return MAD_TO_SIGMA * _median(-neg) if neg.size else np.nan


def _negative_sigmas(samples, min_count=20):
    """Per row, ``1.4826 * median(-x | x < 0)``; NaN for rows with fewer than ``min_count``.

    Sorting a row puts its ``k`` negative values first, most negative first (NaN
    last), so the median of their magnitudes is read at positions ``k - 1 - k // 2``
    and ``k - 1 - (k - 1) // 2``.
    """
    ordered = np.sort(samples, axis=1)
    with np.errstate(invalid="ignore"):
        count = (samples < 0).sum(axis=1)
    rows = np.arange(samples.shape[0])
    lower = -ordered[rows, np.maximum(count - 1 - (count - 1) // 2, 0)].astype(float)
    upper = -ordered[rows, np.maximum(count - 1 - count // 2, 0)].astype(float)
    return np.where(count >= min_count, MAD_TO_SIGMA * 0.5 * (lower + upper), np.nan)


def per_channel_rms(samples):
    """Noise of each channel from its negative voxels (NaN for blank channels)."""
    rms = _negative_sigmas(samples)
    has_data = np.isfinite(samples).any(axis=1)
    missing = has_data & ~np.isfinite(rms)
    if missing.any():  # too few negative voxels: use the typical channel's noise
        if np.isfinite(rms).any():
            typical = np.nanmedian(rms)
        else:
            typical = _negative_sigmas(samples.reshape(1, -1), min_count=1)[0]
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
    return _rms_from_samples(sample_channels(channel_blocks(data)), nsigma, max_iter)


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
    return per_channel_rms(sample_channels(channel_blocks(data)))
