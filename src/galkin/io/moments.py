"""Moment maps and their uncertainties from a cube array: noise -> mask -> moments.

The array-level core of both ways galkin turns a cube into maps
(:func:`galkin.io.fitscube.maps_from_fits` reads a FITS file straight into
arrays; :func:`galkin.io.cube.maps_from_cube` goes through spectral-cube and
uses :func:`noise_and_mask` and :func:`moment_errors` from here):

1. :func:`noise_and_mask` -- the noise in line-free channels and of each channel
   (:mod:`galkin.io.noise`), then the 3-D emission mask (:mod:`galkin.io.masking`).
   A *noiseless* cube (its line-free voxels exactly zero, as a model cube's are)
   has no noise to measure: its mask is the emission itself.
2. :func:`take_moments` -- with ``w_c`` the masked brightness of channel ``c``
   at velocity ``v_c`` and width ``dv_c``:
   ``M0 = sum w_c dv_c``, ``M1 = sum w_c v_c dv_c / M0`` and the moment-2 width
   ``sigma = sqrt(sum w_c (v_c - M1)^2 dv_c / M0)``.
3. :func:`moment_errors` -- each channel's noise ``rms_c`` propagated to first
   order through those sums, over the channels the mask keeps:
   ``var M0 = sum (rms_c dv_c)^2`` and
   ``var M1 = sum (v_c - M1)^2 (rms_c dv_c)^2 / M0^2``.
   These are per-pixel errors: the noise of neighbouring pixels is correlated
   over a beam, so pixels are not independent.  The scatter the mask itself
   adds (which channels pass depends on the noise) is not included: with the
   smooth mask it is small where the line is bright (the errors match the
   scatter over noise realisations to 5%), with ``mask="clip"`` it is not (on the
   tests' cubes the scatter is 1.4x the moment-0 and 2x the moment-1 error).
"""

from dataclasses import dataclass

import numpy as np
from astropy import units as u

from ..exceptions import GalkinError
from ..units import as_quantity
from . import blanks, masking, noise

__all__ = [
    "Moments",
    "noise_and_mask",
    "take_moments",
    "moment_errors",
    "channel_widths",
    "mask_threshold",
    "noise_value",
    "with_unit",
    "NOISELESS_LEVEL",
    "NOISELESS_PIXEL_LEVEL",
    "DEFAULT_NSIGMA",
    "MASK_METHODS",
    "NO_BEAM_KERNEL_PX",
]

#: Default mask thresholds in units of the noise rms: clipping the cube itself, or
#: the smoothed cube (whose rms is lower, and whose noise peaks are broader).
DEFAULT_NSIGMA = {"clip": 3.0, "smooth": 4.0, "none": None}
MASK_METHODS = tuple(DEFAULT_NSIGMA)
#: Spatial smoothing kernel FWHM (pixels) for the smooth mask of a cube without a beam.
NO_BEAM_KERNEL_PX = 2.0
#: A cube whose noise is below this fraction of its peak is noiseless, and its
#: emission is the voxels brighter than this fraction of the peak (not ``> 0``:
#: the round-off of an FFT convolution is not emission).
NOISELESS_LEVEL = 1e-6
#: Of a noiseless cube's emission, the pixels whose summed emission is below this
#: fraction of the brightest pixel's are left out: there the beam's far wings decide
#: the map -- the decoder renders a beam to 4 sigma (e^-8, 3e-4 of its peak) -- and
#: the simulator's round-off with them, so the model cannot describe them.
NOISELESS_PIXEL_LEVEL = 1e-4


@dataclass
class Moments:
    """Moment maps of a cube as plain arrays (NaN where ``valid`` is False).

    Attributes
    ----------
    moment0, moment1, dispersion : `numpy.ndarray`
        ``(ny, nx)``; brightness x velocity, velocity, velocity.
    moment0_err, moment1_err : `numpy.ndarray` or None
        1-sigma errors (None when the cube's noise is unknown or zero).
    valid : `numpy.ndarray` of bool
        Pixels with masked emission (``moment0 > 0``) and ``moment1`` inside the band.
    """

    moment0: np.ndarray
    moment1: np.ndarray
    dispersion: np.ndarray
    moment0_err: np.ndarray | None
    moment1_err: np.ndarray | None
    valid: np.ndarray


def channel_widths(velocity):
    """Width of each channel, ``|dv/dchannel|`` by central differences (unit of ``velocity``)."""
    velocity = np.asarray(velocity, dtype=float)
    if velocity.size < 2:
        raise GalkinError("The cube has a single channel: there is no spectrum to take moments of.")
    return np.abs(np.gradient(velocity))


def mask_threshold(method, clip_sigma):
    """Check the ``mask`` and ``clip_sigma`` arguments; return the threshold (sigmas)."""
    if method not in MASK_METHODS:
        raise GalkinError(f"mask must be one of {MASK_METHODS}; got {method!r}.")
    if clip_sigma is None:
        return DEFAULT_NSIGMA[method]
    try:
        number = float(clip_sigma)
    except (TypeError, ValueError):
        number = np.nan
    if not number > 0:
        raise GalkinError(f"clip_sigma must be a positive number (of sigmas); got {clip_sigma!r}.")
    return number


def _noiseless_peak(data):
    """The cube's peak when its line-free voxels are exactly zero (a model cube), else None.

    Noiseless: no voxel below ``-NOISELESS_LEVEL * peak`` and a robust sigma of
    at most ``NOISELESS_LEVEL * peak``.  Raises for a cube with no emission at all.
    """
    low, high = np.inf, -np.inf
    for _, _, block in noise.channel_blocks(data):
        if np.isfinite(block).any():
            low, high = min(low, float(np.nanmin(block))), max(high, float(np.nanmax(block)))
    if not np.isfinite(high):
        raise GalkinError("The cube has no finite voxel: it is entirely blank (NaN).")
    peak = max(abs(low), abs(high))
    if peak == 0:
        raise GalkinError("The cube is zero everywhere: there is no emission to fit.")
    if low < -NOISELESS_LEVEL * peak:
        return None
    samples = noise.sample_channels(noise.channel_blocks(data))
    return high if noise.robust_sigma(samples) <= NOISELESS_LEVEL * peak else None


def _without_constant_spectra(data, info):
    """``data`` with its constant spectra blank (:func:`~galkin.io.blanks.constant_spectra`:
    a fill, whose zeros would be read as noise samples), counted in ``info``."""
    constant = blanks.constant_spectra(data)
    info["constant_spectra"] = int(constant.sum())
    return blanks.Blanked(data, constant) if constant.any() else data


def _emission(data, level):
    """A noiseless cube's emission: voxels above ``level``, in the pixels whose summed
    emission reaches ``NOISELESS_PIXEL_LEVEL`` of the brightest pixel's."""
    mask = np.zeros(data.shape, dtype=bool)
    total = np.zeros(data.shape[1:])
    with np.errstate(invalid="ignore"):
        for start, stop, block in noise.channel_blocks(data):
            mask[start:stop] = block > level
            total += np.where(mask[start:stop], block, 0.0).sum(axis=0)
    mask &= total >= NOISELESS_PIXEL_LEVEL * total.max()
    return mask


def _given_noise(noise_rms):
    rms = float(noise_rms)
    if not rms > 0:
        raise GalkinError(f"noise must be positive; got {noise_rms}.")
    return rms


def noise_and_mask(data, *, method="smooth", nsigma=4.0, noise_rms=None, kernel_px=2.0):
    """The cube's noise and its 3-D emission mask.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        Brightness (any unit); NaN marks blanks.
    method : {'smooth', 'clip', 'none'}, optional
        :func:`~galkin.io.masking.smooth_mask`, :func:`~galkin.io.masking.clip_mask`
        (each channel against its own noise), or no mask.
    nsigma : float, optional
        Threshold in units of the rms (of the smoothed cube for 'smooth').
    noise_rms : float, optional
        The noise per channel in the unit of ``data``; default measured.
    kernel_px : float, optional
        FWHM (pixels) of the smooth mask's spatial kernel (the beam).

    Returns
    -------
    mask : `numpy.ndarray` of bool or None
        None for ``method='none'``.
    channel_rms : `numpy.ndarray` or None
        Noise of each channel (for the moment errors); None for a noiseless cube.
    info : dict
        ``noise_rms``, ``noise_method``, ``mask_method``, ``mask_threshold`` and,
        when measured, ``channel_rms`` and ``smooth_rms`` (unit of ``data``) and
        ``noise_correlation_area`` (pixels, :func:`~galkin.io.noise.correlation_area`),
        for the maps' ``meta``.
    """
    n_channel = noise.check_cube(data)[0]
    info = {"mask_method": method, "mask_threshold": None if method == "none" else nsigma}
    if noise_rms is None:
        peak = _noiseless_peak(data)
        if peak is not None:
            level = NOISELESS_LEVEL * peak
            info.update(
                noise_rms=0.0,
                noise_method="none: a noiseless cube (its line-free voxels are exactly zero)",
                mask_method=(
                    "none"
                    if method == "none"
                    else f"emission (voxels > {NOISELESS_LEVEL:g} x peak, in pixels > "
                    f"{NOISELESS_PIXEL_LEVEL:g} x the brightest)"
                ),
                mask_threshold=None,
                requested_mask_method=method,
            )
            return (None if method == "none" else _emission(data, level)), None, info
        data = _without_constant_spectra(data, info)
        rms, line_free = noise.estimate_rms(data)
        info["noise_rms"] = rms
        info["noise_method"] = (
            f"1.4826*MAD of {int(line_free.sum())}/{line_free.size} line-free channels"
        )
    else:
        rms, line_free = _given_noise(noise_rms), None
        info.update(noise_rms=rms, noise_method="given")
    measured = noise.channel_rms(data)
    channel = measured if noise_rms is None else np.full(n_channel, rms)
    info["channel_rms"] = channel
    mask = _mask(data, method, nsigma, noise_rms, rms, measured, channel, kernel_px, info)
    info["noise_correlation_area"] = _correlation_area(data, mask, line_free, channel)
    return mask, channel, info


def _correlation_area(data, mask, line_free, channel_rms):
    """:func:`~galkin.io.noise.correlation_area` in the line-free channels (when there
    are a few) outside the emission mask; NaN with neither to keep emission out."""
    if line_free is not None and line_free.sum() < 4:
        line_free = None
    if mask is None and line_free is None:
        return np.nan
    return noise.correlation_area(data, mask, line_free, channel_rms)


def _mask(data, method, nsigma, noise_rms, rms, measured, channel, kernel_px, info):
    """The 3-D emission mask of :func:`noise_and_mask` (its ``smooth_rms`` into ``info``)."""
    if method == "none":
        return None
    if method == "clip":
        return masking.clip_mask(data, channel, nsigma=nsigma)
    smooth_rms = None
    if noise_rms is not None:  # the given level, through the smoothing's noise reduction
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = np.where(measured > 0, rms / measured, np.nan)
        if not np.isfinite(factor).all():  # nothing to measure: assume white noise
            smooth_rms = np.full(len(measured), rms * masking.smoothed_noise_factor(kernel_px))
    else:
        factor = 1.0
    mask, info["smooth_rms"] = masking.smooth_mask(
        data, fwhm_px=kernel_px, nsigma=nsigma, rms_factor=factor, rms=smooth_rms
    )
    return mask


def noise_value(noise, unit):
    """The ``noise`` argument (a Quantity in the cube's brightness unit) as a float in ``unit``."""
    if not (isinstance(noise, u.Quantity) and noise.unit.is_equivalent(unit)):
        raise GalkinError(
            f"noise must be a Quantity in the cube's brightness unit ({unit or 'dimensionless'}), "
            f"e.g. noise=0.003 * u.Unit('{unit}'); got {noise!r}."
        )
    return _given_noise(as_quantity(noise, "noise", unit, scalar=True).to_value(unit))


def with_unit(info, unit, pixel):
    """:func:`noise_and_mask`'s ``info`` with the brightness ``unit`` on its noise levels,
    and the noise's correlation area in the sky's unit (``pixel``: a pixel's side, an
    angle Quantity)."""
    out = {
        key: value * unit if key in ("noise_rms", "channel_rms", "smooth_rms") else value
        for key, value in info.items()
    }
    if "noise_correlation_area" in out:
        out["noise_correlation_area"] = (out["noise_correlation_area"] * pixel**2).to(u.arcsec**2)
    return out


def _sums(weights, cube):
    """``weights @ cube`` over the channel axis: ``(k, n_channel) x (n_channel, ny, nx)``."""
    n_channel, ny, nx = cube.shape
    return (weights @ cube.reshape(n_channel, ny * nx)).reshape(len(weights), ny, nx)


def take_moments(data, velocity, *, mask=None, channel_rms=None):
    """Moments 0, 1 and the moment-2 width of a cube, and their errors.

    Parameters
    ----------
    data : array-like, shape ``(n_channel, ny, nx)``
        Brightness; NaN marks blanks (left out, as masked voxels are).
    velocity : array-like, shape ``(n_channel,)``
        The velocity of each channel (e.g. km/s).
    mask : array of bool, optional
        Voxels to use (default every finite voxel).
    channel_rms : array-like, shape ``(n_channel,)``, optional
        Noise of each channel in the unit of ``data``; without it (or for a
        noiseless cube) the errors are None.

    Returns
    -------
    Moments

    Examples
    --------
    >>> import numpy as np
    >>> v = np.arange(-50.0, 51.0, 5.0)  # km/s
    >>> line = np.exp(-0.5 * ((v - 12.0) / 10.0) ** 2)
    >>> cube = np.broadcast_to(line[:, None, None], (v.size, 2, 2))
    >>> m = take_moments(cube, v, channel_rms=np.full(v.size, 0.01))
    >>> round(float(m.moment1[0, 0]), 2), round(float(m.dispersion[0, 0]), 1)
    (12.0, 10.0)
    >>> round(float(m.moment0_err[0, 0]), 3)  # 0.01 * 5 km/s * sqrt(21 channels)
    0.229
    """
    velocity = np.asarray(velocity, dtype=float)
    widths = channel_widths(velocity)
    data = np.asarray(data, dtype=np.float32)
    use = np.isfinite(data)
    values = data if use.all() else np.nan_to_num(data, nan=0.0)
    if mask is not None:
        use &= np.asarray(mask, dtype=bool)
        values = values * use
    # velocities about the band's centre, so the second moment does not lose precision
    v0 = 0.5 * (velocity.min() + velocity.max())
    dv = velocity - v0
    m0, m1v, m2v = _sums(np.stack([widths, widths * dv, widths * dv**2]), values.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = m1v / m0
        variance = m2v / m0 - mean**2
        # a single-channel line has variance 0 up to round-off; noise (negative
        # weights) can make it truly negative, and its width NaN
        variance[np.abs(variance) < 1e-12 * np.max(dv**2)] = 0.0
        sigma = np.sqrt(variance)
        half = widths.max() / 2
        valid = (m0 > 0) & (mean >= dv.min() - half) & (mean <= dv.max() + half)
    moment1 = mean + v0
    errors = (None, None)
    if channel_rms is not None:
        errors = moment_errors(use, velocity, widths, channel_rms, m0, moment1)
    blank = lambda a: None if a is None else np.where(valid, a, np.nan)  # noqa: E731
    return Moments(
        moment0=blank(m0),
        moment1=blank(moment1),
        dispersion=blank(sigma),
        moment0_err=blank(errors[0]),
        moment1_err=blank(errors[1]),
        valid=valid,
    )


def moment_errors(mask, velocity, widths, channel_rms, moment0, moment1):
    """First-order errors of moment 0 and moment 1 from each channel's noise.

    ``var M0 = sum_c m_c (rms_c dv_c)^2`` and
    ``var M1 = sum_c m_c (v_c - M1)^2 (rms_c dv_c)^2 / M0^2``, with ``m_c`` the
    mask; where the mask keeps a single channel (whose first-order M1 error is
    zero) the channel's quantisation, ``dv_c / sqrt(12)``.  Neighbouring pixels
    are correlated within a beam; the mask's own dependence on the noise is not
    included.

    Parameters
    ----------
    mask : array of bool, shape ``(n_channel, ny, nx)``
    velocity, widths, channel_rms : array-like, shape ``(n_channel,)``
    moment0, moment1 : `numpy.ndarray`, shape ``(ny, nx)``
        ``M0`` in (brightness unit) x (unit of ``velocity``), ``M1`` in the unit of ``velocity``.

    Returns
    -------
    moment0_err, moment1_err : `numpy.ndarray` or None
        None (both) when the noise is zero or unknown in any used channel.
    """
    variance = (np.asarray(channel_rms, dtype=float) * widths) ** 2
    used = np.asarray(mask).reshape(len(variance), -1).any(axis=1)
    if not (np.isfinite(variance[used]).all() and (variance[used] > 0).all()):
        return None, None
    variance = np.where(used, variance, 0.0)
    v0 = 0.5 * (np.min(velocity) + np.max(velocity))
    dv = np.asarray(velocity, dtype=float) - v0
    s0, s1, s2 = _sums(np.stack([variance, variance * dv, variance * dv**2]), mask.astype(float))
    offset = np.asarray(moment1, dtype=float) - v0
    with np.errstate(invalid="ignore", divide="ignore"):
        var1 = np.maximum(s2 - 2 * offset * s1 + offset**2 * s0, 0.0) / np.asarray(moment0) ** 2
    # One channel in the mask: the first-order error is zero (M1 is that channel's
    # velocity whatever its noise), but the line centre is only known to within
    # the channel: a uniform spread of width dv, sigma dv / sqrt(12).
    count, widths2 = _sums(
        np.stack([np.ones_like(variance), np.asarray(widths) ** 2]), mask.astype(float)
    )
    var1 = np.where(count == 1, np.maximum(var1, widths2 / 12.0), var1)
    return np.sqrt(s0), np.sqrt(var1)
