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

:func:`correlation_area` measures how far the noise is correlated across the
sky: the sum of its spatial autocorrelation coefficient over lags, in pixels.
White noise gives one pixel; an interferometer's noise is correlated over the
beam (noise smoothed by a Gaussian of ``sigma`` pixels gives ``4 pi sigma^2``).
The fit counts one independent measurement per such area, so errors on cubes
with correlated noise are not too small.
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
    "correlation_area",
    "BLOCK_VOXELS",
    "CORRELATION_CHANNELS",
    "CORRELATION_MAX_LAG",
    "CORRELATION_WINDOW",
    "CORRELATION_FLOOR",
    "CORRELATION_MIN_VOXELS",
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
#: Channels (evenly spaced) the noise's spatial correlation is measured in.
CORRELATION_CHANNELS = 32
#: Largest lag (pixels) of the measured correlation, and the largest window
#: (pixels per side, centred) of a channel it is measured in.
CORRELATION_MAX_LAG = 32
CORRELATION_WINDOW = 256
#: The correlation is summed over lags out to where its ring mean falls below this
#: (for a Gaussian correlation, the fraction of the area left out).
CORRELATION_FLOOR = 0.02
#: Fewest noise voxels the correlation is measured from.
CORRELATION_MIN_VOXELS = 1000


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


def _window(n, size):
    """Slice of a centred window of at most ``size`` of ``n`` pixels."""
    start = max(0, (n - size) // 2)
    return slice(start, min(n, start + size))


def correlation_area(data, mask=None, channels=None, rms=None):
    """Spatial correlation area of the cube's noise, in pixels.

    The autocorrelation of the noise -- each channel's voxels outside the emission
    ``mask``, divided by the channel's ``rms`` -- over pixel pairs at each lag,
    normalised to one at zero lag, averaged in rings of integer lag, and summed over
    the pixels of every ring out to the last one whose mean is above
    `CORRELATION_FLOOR` and below the previous ring's (so negative side lobes and
    faint emission wings beyond it do not count). Measured in up to
    `CORRELATION_CHANNELS` evenly spaced channels (of ``channels`` when given: the
    line-free ones), in a centred window of at most `CORRELATION_WINDOW` pixels
    per side. For noise smoothed by a Gaussian beam it is about 5% below
    ``4 pi sigma^2`` (the tail beyond the floor and the removed mean).

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        NaN marks blanks.
    mask : array-like of bool, optional
        The emission (shape of ``data``), left out.
    channels : array-like of bool, shape ``(n_channel,)``, optional
        The channels to use (default all).
    rms : array-like, shape ``(n_channel,)``, optional
        Each channel's noise (default its robust sigma).

    Returns
    -------
    float
        At least 1; NaN when fewer than `CORRELATION_MIN_VOXELS` noise voxels
        are available.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.ndimage import gaussian_filter
    >>> rng = np.random.default_rng(0)
    >>> white = rng.normal(0.0, 1.0, (16, 128, 128))
    >>> round(correlation_area(white), 1)
    1.0
    >>> smooth = gaussian_filter(white, (0, 2.0, 2.0), mode="wrap")
    >>> round(correlation_area(smooth) / (4 * np.pi * 2.0**2), 1)  # the lags left out
    0.9
    """
    n_channel, ny, nx = check_cube(data)
    pick = np.arange(n_channel) if channels is None else np.flatnonzero(channels)
    if pick.size > CORRELATION_CHANNELS:
        pick = pick[np.linspace(0, pick.size - 1, CORRELATION_CHANNELS).round().astype(int)]
    rows, cols = _window(ny, CORRELATION_WINDOW), _window(nx, CORRELATION_WINDOW)
    h, w = rows.stop - rows.start, cols.stop - cols.start
    lag = min(CORRELATION_MAX_LAG, h - 1, w - 1)
    shape = (h + lag, w + lag)  # zero padding: no wrap-around out to ``lag``
    corr = np.zeros(shape)
    pairs = np.zeros(shape)
    voxels = 0
    for c in pick:
        plane = np.asarray(data[c], dtype=float)[rows, cols]
        good = np.isfinite(plane)
        if mask is not None:
            good &= ~np.asarray(mask[c], dtype=bool)[rows, cols]
        if good.sum() < 2:
            continue
        values = plane[good]
        sigma = rms[c] if rms is not None and np.isfinite(rms[c]) else robust_sigma(values)
        if not sigma > 0:
            continue
        x = np.where(good, (plane - values.mean()) / sigma, 0.0)
        corr += np.fft.irfft2(np.abs(np.fft.rfft2(x, s=shape)) ** 2, s=shape)
        pairs += np.fft.irfft2(np.abs(np.fft.rfft2(good.astype(float), s=shape)) ** 2, s=shape)
        voxels += int(good.sum())
    if voxels < CORRELATION_MIN_VOXELS:
        return np.nan
    lag_y = np.fft.fftfreq(shape[0], 1.0 / shape[0])[:, None]
    lag_x = np.fft.fftfreq(shape[1], 1.0 / shape[1])[None, :]
    ring = np.rint(np.hypot(lag_y, lag_x)).astype(int)
    # lags with at least a tenth of the zero lag's pixel pairs (fewer: too noisy)
    usable = (ring <= lag) & (pairs > 0.1 * pairs[0, 0])
    rho = np.where(usable, corr / np.maximum(pairs, 1.0), 0.0)
    rho = rho / rho[0, 0]
    total = np.bincount(ring[usable], rho[usable], minlength=lag + 1)[: lag + 1]
    count = np.bincount(ring[usable], minlength=lag + 1)[: lag + 1]
    mean = total / np.maximum(count, 1)
    stop = 1
    while stop <= lag and count[stop] > 0 and CORRELATION_FLOOR < mean[stop] <= mean[stop - 1]:
        stop += 1
    return float(max(total[:stop].sum(), 1.0))
