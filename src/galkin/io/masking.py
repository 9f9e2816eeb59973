"""3-D emission masks for spectral cubes.

``data`` is a cube as in :mod:`galkin.io.noise` (anything 3-D that slices along
its first axis; NaN marks blanks), read in blocks of whole channels.

* :func:`clip_mask`: voxels above ``nsigma`` x rms in at least two adjacent
  channels (a single noise spike cannot make a pixel valid);
* :func:`smooth_mask`: the smooth-mask method of Dame (2011, arXiv:1101.1499):
  smooth spatially (Gaussian) and spectrally (Hanning), threshold the smoothed
  cube at ``nsigma`` x *its* rms, drop small islands, grow the mask by one
  voxel, and apply it to the original cube.  Faint extended emission survives.

The noise each channel is cut against comes from :mod:`galkin.io.noise`
(re-exported here: :func:`estimate_rms`, :func:`channel_rms`, :func:`robust_sigma`).
"""

import numpy as np
from scipy import ndimage

from ..exceptions import GalkinError
from .noise import (
    BLOCK_VOXELS,
    channel_blocks,
    channel_rms,
    check_cube,
    estimate_rms,
    per_channel_rms,
    robust_sigma,
    sample_channels,
)

__all__ = [
    "clip_mask",
    "smooth_mask",
    "smoothed_noise_factor",
    "estimate_rms",
    "channel_rms",
    "robust_sigma",
]

_FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))
_GAUSS_AREA = np.pi / (4 * np.log(2))  # area of a 2-D Gaussian / FWHM^2
_HANNING = (0.25, 0.5, 0.25)
_HANNING_VAR = sum(w * w for w in _HANNING)


def _thresholds(rms, n_channel, nsigma):
    rms = np.asarray(rms, dtype=float)
    if rms.ndim == 0:
        rms = np.full(n_channel, float(rms))
    if rms.shape != (n_channel,):
        raise GalkinError(f"rms must be a scalar or one value per channel ({n_channel}).")
    return nsigma * rms


def _above(blocks, cut, shape):
    """Boolean cube: voxels of the ``(start, stop, block)`` blocks above their channel's cut."""
    mask = np.zeros(shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for start, stop, block in blocks:
            mask[start:stop] = block > cut[start:stop, None, None].astype(np.float32)
    return mask


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
    shape = check_cube(data)
    if min_channels not in (1, 2):
        raise GalkinError(f"min_channels must be 1 or 2; got {min_channels!r}.")
    mask = _above(channel_blocks(data), _thresholds(rms, shape[0], nsigma), shape)
    if min_channels == 2:
        neighbour = np.zeros_like(mask)
        neighbour[1:] |= mask[:-1]
        neighbour[:-1] |= mask[1:]
        mask &= neighbour
    return mask


def _grow(mask, iterations):
    """Binary dilation with the 6-connected cross (SciPy's default), by shifted ORs."""
    for _ in range(iterations):
        grown = mask.copy()
        for axis in range(3):
            lead = [slice(None)] * 3
            trail = [slice(None)] * 3
            lead[axis], trail[axis] = slice(1, None), slice(None, -1)
            grown[tuple(lead)] |= mask[tuple(trail)]
            grown[tuple(trail)] |= mask[tuple(lead)]
        mask = grown
    return mask


def _separable(images, kernel, out=None):
    """Correlate each ``(y, x)`` image of a ``(n, y, x)`` stack with ``kernel`` on both axes.

    The second pass works in place (SciPy filters line by line through a buffer):
    a temporary the size of the stack costs as much as the filtering itself.
    """
    out = ndimage.correlate1d(images, kernel, axis=-2, mode="constant", output=out)
    return ndimage.correlate1d(out, kernel, axis=-1, mode="constant", output=out)


def _gaussian_kernel(fwhm_px):
    """Normalised 1-D Gaussian of FWHM ``fwhm_px``, truncated at 4 sigma."""
    sigma = float(fwhm_px) * _FWHM_TO_SIGMA
    radius = max(1, int(4 * sigma + 0.5))
    g = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


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
        self.g = _gaussian_kernel(fwhm_px)
        self.g2 = self.g**2
        self.data = data
        self._scales = {}

    def _scale(self, finite):
        """``1 / noise`` of the spatially smoothed white noise over the finite pixels."""
        key = finite.tobytes()
        if key not in self._scales:
            weight = _separable(finite.astype(np.float32), self.g)
            noise = np.sqrt(_separable(finite.astype(np.float32), self.g2)) / self.g2.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                self._scales[key] = np.where(weight > 0.1, 1.0 / noise, np.nan).astype(np.float32)
        return self._scales[key]

    def spatial(self, block, out):
        """Write the Gaussian-smoothed, noise-normalised channels of a block into ``out``."""
        finite = np.isfinite(block)
        if not finite.all():
            block = np.where(finite, block, np.float32(0.0))
        _separable(block, self.g, out=out)
        if (finite == finite[:1]).all():  # the usual case: one pattern of blanks
            out *= self._scale(finite[0])
        else:
            for c in range(block.shape[0]):
                out[c] *= self._scale(finite[c])

    def blocks(self):
        """Yield ``(start, stop, block)`` of the smoothed cube."""
        n_channel = self.data.shape[0]
        for start, stop, block in channel_blocks(self.data, halo=1):
            # channels start - 1 .. stop; those beyond the cube's ends are absent (zero)
            channels = np.arange(start - 1, stop + 1)
            planes = np.zeros((len(channels), *block.shape[1:]), dtype=np.float32)
            first = 1 if start == 0 else 0
            self.spatial(block, out=planes[first : first + block.shape[0]])
            present = (channels >= 0) & (channels < n_channel)
            yield start, stop, _hanning(planes, present)


def _hanning(planes, present):
    """Hanning-smooth ``(n + 2, y, x)`` planes along the first axis into ``(n, y, x)``.

    Blank voxels (NaN) and absent planes (beyond the cube's ends) are left out of
    each sum, which is then rescaled by the square root of its summed squared
    weights relative to the full kernel, so white noise keeps its interior level;
    a voxel with no neighbour at all is NaN.
    """
    edge, mid = np.float32(_HANNING[0]), np.float32(_HANNING[1])
    ok = np.isfinite(planes)
    if ok.all():  # no blanks: the weights depend only on which planes are present
        ok = present[:, None, None]
    else:
        planes = np.where(ok, planes, np.float32(0.0))
        ok &= present[:, None, None]
    total = planes[:-2] + planes[2:]
    total *= edge
    total += mid * planes[1:-1]
    var = edge**2 * ok[:-2] + mid**2 * ok[1:-1] + edge**2 * ok[2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        total *= np.where(var > 0, np.sqrt(_HANNING_VAR / var), np.nan).astype(np.float32)
    return total


def smoothed_noise_factor(fwhm_px):
    """rms of white noise after :func:`smooth_mask`'s smoothing, per unit input rms.

    Used to set the threshold of the smoothed cube when the noise is given rather
    than measured (a noiseless model cube has no noise to measure).

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(3).normal(0, 1.0, (40, 200, 200))
    >>> _, rms = smooth_mask(noise, fwhm_px=3.0)
    >>> bool(np.allclose(rms, smoothed_noise_factor(3.0), rtol=0.05))
    True
    """
    g2 = _gaussian_kernel(fwhm_px).astype(float) ** 2
    return float(g2.sum() * np.sqrt(_HANNING_VAR))


def smooth_mask(
    data, *, fwhm_px=2.0, nsigma=4.0, dilate=1, min_size=None, rms_factor=1.0, rms=None
):
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
    rms : float or array of shape ``(n_channel,)``, optional
        The rms of the smoothed cube, instead of measuring it (``rms_factor`` is
        then ignored); see :func:`smoothed_noise_factor`.

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
    shape = check_cube(data)
    if not fwhm_px > 0:
        raise GalkinError(f"The smoothing kernel FWHM must be positive; got {fwhm_px} px.")
    smoother = _Smoother(data, fwhm_px)
    smoothed = smoother.blocks
    if np.prod(shape) <= BLOCK_VOXELS:  # a single block: smooth once, read it twice
        cached = list(smoother.blocks())
        smoothed = lambda: cached  # noqa: E731
    if rms is None:
        rms = per_channel_rms(sample_channels(smoothed())) * np.asarray(rms_factor, dtype=float)
    else:
        rms = np.broadcast_to(np.asarray(rms, dtype=float), shape[:1]).copy()
    mask = _above(smoothed(), _thresholds(rms, shape[0], nsigma), shape)
    if min_size is None:
        min_size = int(round(3 * _GAUSS_AREA * 2 * fwhm_px**2))
    if min_size > 1 and mask.any():
        labels, n_islands = ndimage.label(mask)
        keep = np.bincount(labels[mask], minlength=n_islands + 1) >= min_size
        keep[0] = False
        mask = keep[labels]
        del labels
    if dilate and mask.any():
        mask = _grow(mask, int(dilate))
    for start, stop, block in channel_blocks(data):
        mask[start:stop] &= np.isfinite(block)
    return mask, rms
